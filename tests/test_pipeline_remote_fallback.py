"""A RemoteModel finds a cloud worker that serves only ``/sedna``, as the joint-inference client does."""

import numpy as np
import pytest

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import RemoteError
from sedna_lib.joint_inference import BigModelService
from sedna_lib.pipeline import RemoteModel


class _Double:
    def predict(self, x):
        return 2 * np.asarray(x)


@pytest.mark.integration
def test_a_remote_model_falls_back_to_the_sedna_route_of_a_big_model_service():
    big = BigModelService(_Double(), context=Context(Config()))
    with big.start(host="127.0.0.1", port=0, block=False) as service:
        cloud = RemoteModel(name="cloud", url=service.url, service="big", config=Config())
        try:
            result = cloud(np.array([[1.0, 2.0]]))
            assert cloud.client.endpoint == f"{service.url}/sedna"
        finally:
            cloud.close()

    np.testing.assert_allclose(result, [[2.0, 4.0]])


@pytest.mark.integration
def test_a_remote_model_still_reports_a_404_no_route_answers():
    big = BigModelService(_Double(), context=Context(Config()))
    with big.start(host="127.0.0.1", port=0, block=False) as service:
        cloud = RemoteModel(name="cloud", url=f"{service.url}/nowhere", service="big", config=Config())
        try:
            with pytest.raises(RemoteError, match="404"):
                cloud(np.array([[1.0, 2.0]]))
        finally:
            cloud.close()
