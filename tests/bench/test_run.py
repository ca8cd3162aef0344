from pathlib import Path

from bench.run import TARGETS, update_readme, verdicts


def test_verdicts_compare_each_measure_with_its_target() -> None:
    results = {
        "batch": {"batch_speedup_vs_pipeline": 6.5},
        "api": {
            "api_p50_ms": 12.0,
            "api_load_vs_offline_throughput": 0.8,
            "cold_start_s": 2.0,
            "rss_mb": 700.0,
        },
        "training": {"train_minutes": None},
    }
    table = verdicts(results)
    assert set(table) == set(TARGETS)
    met = {key: row["met"] for key, row in table.items()}
    assert met == {
        "batch_speedup_vs_pipeline": True,
        "api_p50_ms": False,
        "api_load_vs_offline_throughput": True,  # the target itself counts as met
        "cold_start_s": True,
        "rss_mb": False,
        "train_minutes": False,  # not measured is not met
    }


def test_update_readme_replaces_only_its_own_block(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- results -->\nold\n<!-- /results -->\nprose\n")
    update_readme(readme, "results", "new table")
    update_readme(readme, "results:onnx", "int8 table")
    update_readme(readme, "results:onnx", "int8 table v2")
    text = readme.read_text()
    assert text.startswith("intro\n<!-- results -->\nnew table\n<!-- /results -->\nprose\n")
    assert "old" not in text and "int8 table\n" not in text
    assert text.count("<!-- results:onnx -->") == 1 and "int8 table v2" in text
