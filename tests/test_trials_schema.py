"""Trial-schema reader/writer: case-insensitive headers, canonical conditions, clear errors on bad input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from humanalign.io.trials import (
    TRIAL_COLUMNS,
    TrialsError,
    canonical_conditions,
    load_raw_data,
    model_trials,
    read_trials_csv,
    short_image_id,
    write_trials_csv,
)

HEADER = "subj,Session,trial,rt,object_response,category,condition,imagename\n"


def _write(tmp_path: Path, body: str, name: str = "contrast/contrast_subject-01_session_1.csv") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + body)
    return path


def test_reads_mixed_case_header_and_derives_columns(tmp_path: Path) -> None:
    path = _write(tmp_path, "subject-01,1,1,0.8,knife,knife,c30,0001_cop_s01_c30_knife_10_n03041632_7380.png\n"
                            "subject-01,1,2,0.9,na,cat,c100,0002_cop_s01_c100_cat_10_n02124075_1.png\n")
    frame = read_trials_csv(path)
    assert list(frame.columns[:8]) == list(TRIAL_COLUMNS)
    assert frame["dataset"].tolist() == ["contrast", "contrast"]
    assert frame["image_id"].tolist() == ["n03041632_7380.png", "n02124075_1.png"]
    assert frame["object_response"].tolist() == ["knife", "na"]


@pytest.mark.parametrize("raw, expected", [
    (["0", "15", "40"], ["0", "15", "40"]),
    (["0.00", "0.90", "0.03"], ["0.0", "0.9", "0.03"]),
    (["1", "1.5", "inf"], ["1.0", "1.5", "inf"]),
    (["true", "false"], ["True", "False"]),
    (["c100", "c05"], ["c100", "c05"]),
    (["NaN", "NaN"], ["", ""]),
])
def test_canonical_conditions_match_the_benchmark_strings(raw: list[str], expected: list[str]) -> None:
    assert canonical_conditions(pd.Series(raw)).tolist() == expected


def test_short_image_id() -> None:
    assert short_image_id("0000_cl_s01_bw_boat_40_n02951358_5952.JPEG") == "n02951358_5952.JPEG"
    assert short_image_id("0001_s5n_s01_0_bird_00_bird3-bird2.png") == "bird3-bird2.png"
    assert short_image_id("airplane1-bicycle2.png") == "airplane1-bicycle2.png"


def test_missing_column_names_file(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("subj,session,trial,rt,object_response,category,imagename\nsubject-01,1,1,1,cat,cat,a.png\n")
    with pytest.raises(TrialsError, match=r"x\.csv: missing column\(s\) \['condition'\]"):
        read_trials_csv(path)


def test_unknown_category_names_file_and_row(tmp_path: Path) -> None:
    path = _write(tmp_path, "subject-01,1,1,0.8,cat,cat,c30,a_1.png\nsubject-01,1,2,0.8,cat,zebra,c30,b_2.png\n")
    with pytest.raises(TrialsError, match=r"contrast_subject-01_session_1\.csv: row 2 \(line 3\): unknown category 'zebra'"):
        read_trials_csv(path)


def test_unknown_response_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "subject-01,1,1,0.8,horse,cat,c30,a_1.png\n")
    with pytest.raises(TrialsError, match="unknown object_response 'horse'"):
        read_trials_csv(path)


def test_duplicate_trial_names_row(tmp_path: Path) -> None:
    path = _write(tmp_path, "subject-01,1,1,0.8,cat,cat,c30,a_1.png\nsubject-01,1,1,0.8,cat,cat,c30,b_2.png\n")
    with pytest.raises(TrialsError, match=r"row 2 \(line 3\): duplicate trial"):
        read_trials_csv(path)


def test_duplicate_image_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "subject-01,1,1,0.8,cat,cat,c30,0001_x_1.png\nsubject-01,1,2,0.8,cat,cat,c30,0002_x_1.png\n")
    with pytest.raises(TrialsError, match="saw image '0002_x_1.png' twice"):
        read_trials_csv(path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="trial file not found"):
        read_trials_csv(tmp_path / "none.csv")
    with pytest.raises(FileNotFoundError, match="raw-data folder not found"):
        load_raw_data(tmp_path / "none")
    (tmp_path / "edge").mkdir()
    _write(tmp_path, "subject-01,1,1,0.8,cat,cat,0,a_1.png\n", name="edge/edge_subject-01_session_1.csv")
    with pytest.raises(FileNotFoundError, match="data set 'rotation' not found"):
        load_raw_data(tmp_path, datasets=["rotation"])


def test_model_trials_round_trip(tmp_path: Path) -> None:
    stimuli = pd.DataFrame({"category": ["cat", "dog"], "imagename": ["cat1-dog2.png", "dog3-cat1.png"]})
    rows = model_trials("vit_test_image", "cue-conflict", stimuli, ["dog", "dog"])
    path = write_trials_csv(rows, tmp_path / "cue-conflict" / "cue-conflict_vit_session-1.csv")
    back = read_trials_csv(path)
    assert back["object_response"].tolist() == ["dog", "dog"]
    assert back["condition"].tolist() == ["0", "0"]
    assert back["image_id"].tolist() == ["cat1-dog2.png", "dog3-cat1.png"]
    with pytest.raises(TrialsError, match="2 responses for 1 stimuli"):
        model_trials("m", "edge", stimuli.head(1), ["cat", "dog"])
    with pytest.raises(TrialsError, match="must not start with 'subject-'"):
        model_trials("subject-99", "edge", stimuli, ["cat", "dog"])


@pytest.mark.shared_data
def test_loads_real_raw_data(mvh_raw_data: Path) -> None:
    trials = load_raw_data(mvh_raw_data, datasets=["false-colour", "uniform-noise"], observers=["humans", "resnet50"])
    assert set(trials["dataset"]) == {"false-colour", "uniform-noise"}
    assert set(trials["condition"][trials["dataset"] == "false-colour"]) == {"True", "False"}
    assert set(trials["condition"][trials["dataset"] == "uniform-noise"]) == {
        "0.0", "0.03", "0.05", "0.1", "0.2", "0.35", "0.6", "0.9"}
    assert set(trials["subj"]) == {"resnet50", "subject-01", "subject-02", "subject-03", "subject-04"}
    # 1120 false-colour + 1280 uniform-noise trials per observer, 5 observers
    assert len(trials) == 5 * (1120 + 1280)


def test_empty_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(TrialsError, match=r"empty\.csv: empty file"):
        read_trials_csv(path)


@pytest.mark.parametrize(("row", "message"), [
    ("subject-01,1,NaN,0.8,cat,cat,c30,a_1.png", r"row 2 \(line 3\): trial 'NaN' is missing or not a number"),
    ("subject-01,1,,0.8,cat,cat,c30,a_1.png", r"row 2 \(line 3\): trial '' is missing"),
    ("subject-01,one,2,0.8,cat,cat,c30,a_1.png", r"row 2 \(line 3\): session 'one' is missing or not a number"),
    ("subject-01,1,2,0.8,cat,cat,c30,NaN", r"row 2 \(line 3\): imagename is missing \('NaN'\)"),
    ("subject-01,1,2,0.8,cat,cat,c30,", r"row 2 \(line 3\): imagename is missing"),
])
def test_missing_numbers_and_names_are_not_duplicates(tmp_path: Path, row: str, message: str) -> None:
    path = _write(tmp_path, f"subject-01,1,1,0.8,cat,cat,c30,b_2.png\n{row}\n")
    with pytest.raises(TrialsError, match=message):
        read_trials_csv(path)


def test_extra_column_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "extra.csv"
    path.write_text(HEADER.strip() + ",notes\nsubject-01,1,1,0.8,cat,cat,c30,a_1.png,hello\n")
    with pytest.raises(TrialsError, match=r"extra\.csv: unexpected column\(s\) \['notes'\]"):
        read_trials_csv(path)


def test_blank_lines_keep_true_line_numbers(tmp_path: Path) -> None:
    path = _write(tmp_path, "\nsubject-01,1,1,0.8,cat,cat,c30,a_1.png\n\n\nsubject-01,1,2,0.8,cat,zebra,c30,b_2.png\n")
    with pytest.raises(TrialsError, match=r"row 2 \(line 6\): unknown category 'zebra'"):
        read_trials_csv(path)
    good = _write(tmp_path, "subject-01,1,1,0.8,cat,cat,c30,a_1.png\n\nsubject-01,1,2,0.8,dog,dog,c30,b_2.png\n\n",
                  name="good/x.csv")
    assert read_trials_csv(good)["trial"].tolist() == [1, 2]
