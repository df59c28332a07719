"""flytekit's client calling the matchable attribute RPCs (run with flytekit's virtualenv's python).

    python attributes_client.py CONFIG

Sets a project-domain CLUSTER_RESOURCE attribute, a workflow EXECUTION_QUEUE attribute and a project-domain
PLUGIN_OVERRIDE through ``FlyteRemote.client``, reads them back, lists them, reads one that is not set, and
prints the results as one JSON object on the last line.
"""

from __future__ import annotations

import json
import sys

import grpc
from flytekit.configuration import Config
from flytekit.exceptions.user import FlyteEntityNotExistException
from flytekit.models import matchable_resource as mr
from flytekit.remote import FlyteRemote
from google.protobuf import json_format

PROJECT = "flytesnacks"
DOMAIN = "development"
WORKFLOW = "flows.hello"


def main(config: str) -> dict[str, object]:
    """The attributes round trip; what each call returned."""
    client = FlyteRemote(Config.auto(config), default_project=PROJECT, default_domain=DOMAIN).client
    client.update_project_domain_attributes(
        PROJECT,
        DOMAIN,
        mr.MatchingAttributes(
            cluster_resource_attributes=mr.ClusterResourceAttributes({"projectQuotaCpu": "4"})
        ),
    )
    client.update_workflow_attributes(
        PROJECT,
        DOMAIN,
        WORKFLOW,
        mr.MatchingAttributes(execution_queue_attributes=mr.ExecutionQueueAttributes(["gpu", "fast"])),
    )
    override = mr.PluginOverride("python-task", ["local-process"], mr.PluginOverride.USE_DEFAULT)
    client.update_project_domain_attributes(
        PROJECT, DOMAIN, mr.MatchingAttributes(plugin_overrides=mr.PluginOverrides([override]))
    )
    domain = client.get_project_domain_attributes(PROJECT, DOMAIN, mr.MatchableResource.CLUSTER_RESOURCE)
    workflow = client.get_workflow_attributes(PROJECT, DOMAIN, WORKFLOW, mr.MatchableResource.EXECUTION_QUEUE)
    plugins = client.get_project_domain_attributes(PROJECT, DOMAIN, mr.MatchableResource.PLUGIN_OVERRIDE)
    listed = client.list_matchable_attributes(mr.MatchableResource.EXECUTION_QUEUE)
    try:
        client.get_project_domain_attributes(PROJECT, "production", mr.MatchableResource.CLUSTER_RESOURCE)
        missing = "found"
    except FlyteEntityNotExistException as exc:
        missing = f"{type(exc).__name__}"
    except grpc.RpcError as exc:
        missing = exc.code().name
    return {
        "domain": json_format.MessageToDict(domain.attributes),
        "workflow": json_format.MessageToDict(workflow.attributes),
        "plugins": json_format.MessageToDict(plugins.attributes),
        "listed": json_format.MessageToDict(listed),
        "missing": missing,
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
