"""The start line says the address a server is bound to when it is not the host of the URL it gives."""

import logging

from sedna_lib.observability.logs import log_started


def test_a_server_bound_to_every_interface_says_so_and_where_to_reach_it(caplog):
    caplog.set_level(logging.INFO, logger="sedna_lib.test")

    line = log_started(logging.getLogger("sedna_lib.test"), "knowledge base", "http://127.0.0.1:9020",
                       auth=False, tls=False, bound="0.0.0.0:9020")

    assert line.startswith("knowledge base started on 0.0.0.0:9020 (reach it at http://127.0.0.1:9020): ")
    assert "status page http://127.0.0.1:9020/," in line
    assert caplog.messages == [line]


def test_a_server_bound_where_its_url_points_says_the_url_once():
    line = log_started(logging.getLogger("sedna_lib.test"), "knowledge base", "http://127.0.0.1:9020",
                       auth=False, tls=False, bound="127.0.0.1:9020")

    assert line.startswith("knowledge base started on http://127.0.0.1:9020: auth off")


def test_a_real_server_on_every_interface_says_where_it_is_bound(caplog):
    import re

    from sklearn.linear_model import LogisticRegression

    from sedna_lib.joint_inference import BigModelService

    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    service = BigModelService(model)
    with caplog.at_level(logging.INFO, logger="sedna_lib"):
        service.start(host="0.0.0.0", port=0, block=False)
        try:
            port = service.port if hasattr(service, "port") else None
        finally:
            service.stop()
    started = [m for m in caplog.messages if "started on" in m]
    assert len(started) == 1
    assert re.match(r"big-model server '.*' started on 0\.0\.0\.0:(\d+) \(reach it at http://127\.0\.0\.1:\1\)",
                    started[0]), started[0]
    assert port is None or f":{port}" in started[0]
    assert any(re.match(r"serving on 0\.0\.0\.0:\d+ \(reach it at http://127\.0\.0\.1:\d+\)", m)
               for m in caplog.messages)
