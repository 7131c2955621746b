import pytest
from torch import nn

import cnnlab
from cnnlab.errors import ConfigError
from cnnlab.models import _registry, create, list_models, model_kwargs, register_model


def test_list_models_is_sorted_and_filters():
    names = list_models()
    assert names == sorted(names)
    assert list_models("vgg*") == [
        "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"
    ]  # fmt: skip
    assert list_models("plain*") == [
        "plain110",
        "plain18",
        "plain20",
        "plain32",
        "plain34",
        "plain44",
        "plain56",
    ]
    assert list_models("nothing*") == []


def test_the_issue_s_models_are_all_there():
    required = {
        "lenet5", "alexnet", "nin", "googlenet", "mlp", "densenet121",
        *(f"vgg{d}{bn}" for d in (11, 13, 16, 19) for bn in ("", "_bn")),
        *(f"resnet{d}" for d in (18, 34, 50, 101, 152)),
        *(f"{kind}{d}" for kind in ("resnet", "plain") for d in (20, 32, 44, 56, 110)),
    }  # fmt: skip
    assert required <= set(list_models())
    assert any(n.startswith("densenet_bc") for n in list_models())


def test_unknown_model_suggests_close_matches():
    with pytest.raises(ValueError, match=r"unknown model 'resnt18'; did you mean 'resnet18'"):
        create("resnt18")


def test_unknown_keyword_names_the_accepted_ones():
    with pytest.raises(ConfigError, match="model 'resnet18' takes no argument 'nrom'; did you mean 'norm'"):
        create("resnet18", nrom="group")
    assert {"num_classes", "in_channels", "act", "norm", "dropout", "residual"} <= model_kwargs("resnet18")
    # The architecture (block type, depth) is fixed by the variant, not a keyword.
    assert "layers" not in model_kwargs("resnet18") and "depth" not in model_kwargs("resnet20")


def test_duplicate_registration_is_refused():
    def lenet5():  # same name as the registered builder
        return nn.Identity()

    with pytest.raises(ValueError, match="'lenet5' is already registered"):
        register_model(lenet5)


def test_forwarding_builder_must_name_its_class():
    def untyped_model(**kwargs):
        return nn.Identity()

    with pytest.raises(ConfigError, match="must annotate its return type"):
        register_model(untyped_model)
    assert "untyped_model" not in list_models()


def test_register_and_create_a_user_model(monkeypatch):
    monkeypatch.setattr(_registry, "_MODELS", dict(_registry._MODELS))
    monkeypatch.setattr(_registry, "_ACCEPTS", dict(_registry._ACCEPTS))

    @register_model
    def tiny(*, width: int = 4) -> nn.Module:
        return nn.Sequential(cnnlab.layers.ConvNormAct(1, width))

    assert "tiny" in list_models()
    model = create("tiny", width=3)
    assert model[0].conv.out_channels == 3
    assert model[0].conv.layer_name == "0.conv"  # create names the layers for error messages


def test_top_level_api():
    assert cnnlab.create is create and cnnlab.list_models is list_models
    assert isinstance(cnnlab.__version__, str)
