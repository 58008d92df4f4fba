import gc
import weakref

from sedna_lib.backends.estimator import named_params, _positional_count, parse_kwargs


class Model:
    def predict(self, data, threshold=0.5):
        return data

    def fit(self, x, y, **options):
        return self


def test_bound_methods_are_read_without_their_instance():
    model = Model()

    assert parse_kwargs(model.predict, threshold=0.1, extra=1) == {"threshold": 0.1}
    assert parse_kwargs(model.fit, epochs=2) == {"epochs": 2}
    assert named_params(model.predict) == {"data", "threshold"}
    assert (_positional_count(model.predict), _positional_count(Model.predict)) == (2, 3)


def test_the_signature_cache_keeps_no_model_alive():
    model = Model()
    parse_kwargs(model.predict, threshold=0.1)
    ref = weakref.ref(model)

    del model
    gc.collect()

    assert ref() is None


def test_unhashable_callables_and_builtins_still_work():
    class Callable:
        __hash__ = None

        def __call__(self, data, scale=1):
            return data

    assert parse_kwargs(Callable(), scale=2, other=3) == {"scale": 2}
    assert parse_kwargs(max, anything=1) == {"anything": 1}  # no signature: pass everything
