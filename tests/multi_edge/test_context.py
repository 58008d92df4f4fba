"""A component built with an explicit Config follows it, whatever the process environment says.

The environment is read once, where a user's call enters the library; the plugins a component
builds get the component's configuration, never a second read of the environment.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sedna_lib.exceptions import ConfigError, RemoteError
from sedna_lib.multi_edge_inference import PLUGIN, FEService, TargetImages
from sedna_lib.multi_edge_inference.plugins.registered import ReID_I
from sedna_lib.transport.multi_edge import FE

from ._models import ProjectionFE
from .test_services import BASE

pytestmark = pytest.mark.integration

CFG = dataclasses.replace(BASE, auth_token="from-config", batch_size=3, det_model_bind_port=4101)


@pytest.fixture
def conflicting_env(monkeypatch):
    """An environment that disagrees with CFG on every value the component uses."""
    for name, value in {"SEDNA_AUTH_TOKEN": "from-env", "BATCH_SIZE": "9", "FE_MODEL_BIND_URL": "10.9.9.9",
                        "FE_MODEL_BIND_PORT": "1", "DET_MODEL_BIND_URL": "env-detector",
                        "DET_MODEL_BIND_PORT": "4999", "SEDNA_MAX_REQUEST_BYTES": "10"}.items():
        monkeypatch.setenv(name, value)


def test_a_component_and_the_plugins_it_builds_follow_its_config(conflicting_env):
    with FEService(models=[ProjectionFE(config=CFG)], config=CFG) as fe:
        hosted = fe.get_plugin(PLUGIN.FEATURE_EXTRACTION)
        detector = fe.get_plugin(PLUGIN.VIDEO_ANALYTICS_I)
        trusted = FE("feature_extraction", ip="127.0.0.1", port=hosted.port, token="from-config")
        env_token = FE("feature_extraction", ip="127.0.0.1", port=hosted.port, token="from-env")

        assert fe.batch_size == 3 and hosted.ip == "127.0.0.1" and hosted.port not in (0, 1)
        assert (detector.ip, detector.port) == ("127.0.0.1", 4101)
        assert detector.plugin_api.token == "from-config"
        assert len(trusted.get_target_features([TargetImages("1", [np.ones(64)])])) == 1
        with pytest.raises(RemoteError, match="401"):
            env_token.get_target_features([TargetImages("1", [np.ones(64)])])


def test_a_plugin_given_a_config_does_not_read_a_malformed_environment(monkeypatch):
    monkeypatch.setenv("REID_MODEL_BIND_PORT", "not-a-port")

    client = ReID_I(config=CFG)

    assert (client.ip, client.port) == ("127.0.0.1", 0)
    with pytest.raises(ConfigError, match="REID_MODEL_BIND_PORT"):
        ReID_I()
