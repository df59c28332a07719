"""DataProxyService.GetData: the inputs and outputs of executions, node executions and task attempts by
``flyte://`` URL (what ``pyflyte fetch`` and FlyteRemote send), whole or one by name; bad URLs named."""

from __future__ import annotations

import grpc
from execution_support import DOMAIN, PROJECT, fails, launch, running_admin, wait
from flyteidl.service import dataproxy_pb2, dataproxy_pb2_grpc


def _int(literal) -> int:
    return int(literal.scalar.primitive.integer)


def test_get_data_by_flyte_url(tmp_path, database_url):
    with running_admin(tmp_path, database_url) as (app, admin, _):
        ident = launch(admin, "pair", x=1, y=3)
        wait(admin, ident)
        with grpc.insecure_channel(f"127.0.0.1:{app.grpc_port}") as channel:
            proxy = dataproxy_pb2_grpc.DataProxyServiceStub(channel)

            def get(tail: str) -> dataproxy_pb2.GetDataResponse:
                return proxy.GetData(dataproxy_pb2.GetDataRequest(flyte_url=f"{base}/{tail}"))

            base = f"flyte://v1/{PROJECT}/{DOMAIN}/{ident.name}"
            outputs = get("o").literal_map.literals
            assert {name: _int(value) for name, value in outputs.items()} == {"o0": 2, "o1": 6}
            assert _int(get("i/y").literal) == 3
            assert {n: _int(v) for n, v in get("n0/i").literal_map.literals.items()} == {"x": 1}
            assert _int(get("n0/o/o0").literal) == 2
            assert _int(get("n1/0/o/o0").literal) == 6
            assert _int(get("n1/0/i").literal_map.literals["x"]) == 3

            key = f"{PROJECT}/{DOMAIN}/{ident.name}"
            cases = {
                "n0/o/nope": (
                    grpc.StatusCode.NOT_FOUND,
                    f"node execution 'n0' of execution {key} has no output 'nope' (outputs: o0)",
                ),
                "n0/3/o": (
                    grpc.StatusCode.NOT_FOUND,
                    f"attempt 3 of node execution 'n0' of execution {key} does not exist",
                ),
                "n9/i": (grpc.StatusCode.NOT_FOUND, f"node execution 'n9' of execution {key} does not exist"),
                "n0/x": (
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"flyte_url '{base}/n0/x' is not a flyte data URL (flyte://v1/PROJECT/DOMAIN/EXECUTION"
                    "[/NODE[/ATTEMPT]]/{i|o}[/NAME] or flyte://v1/PROJECT/DOMAIN/EXECUTION/NODE[/ATTEMPT]/d)",
                ),
                "n0/d/name": (
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"flyte_url '{base}/n0/d/name': a deck has no named parts",
                ),
            }
            for tail, (code, message) in cases.items():
                error = fails(proxy.GetData, dataproxy_pb2.GetDataRequest(flyte_url=f"{base}/{tail}"))
                assert (error.code(), error.details()) == (code, message), tail
