"""Argument parsing, --param values, kind guessing and job input mapping (no server)."""

from argparse import Namespace
from pathlib import Path

import pytest

from ai3d.cli import (
    build_parser,
    content_type,
    guess_kind,
    job_inputs,
    main,
    parse_param,
    parse_params,
)
from ai3d.client import CliError

ASSET_A = "0b6c1f7e-5d2a-4c1b-9e8f-1234567890ab"
ASSET_B = "7d1e2f3a-4b5c-4d6e-8f90-abcdef012345"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("ratio=0.5", ("ratio", 0.5)),
        ("targetTriangles=5000", ("targetTriangles", 5000)),
        ("rootMotion=true", ("rootMotion", True)),
        ("rootMotion=false", ("rootMotion", False)),
        ("format=obj", ("format", "obj")),
        ("pose=T", ("pose", "T")),
        ("name=", ("name", "")),
        ('formats=["glb", "fbx"]', ("formats", ["glb", "fbx"])),
        (" seed =7", ("seed", 7)),
        ("note=a=b", ("note", "a=b")),
        ('quoted="12"', ("quoted", "12")),
    ],
)
def test_param_values_are_json_when_they_can_be(text, expected):
    assert parse_param(text) == expected
    assert isinstance(parse_param(text)[1], type(expected[1]))


@pytest.mark.parametrize("text", ["ratio", "=0.5", "  =x"])
def test_malformed_params_are_usage_errors(text):
    with pytest.raises(CliError) as caught:
        parse_param(text)
    assert caught.value.exit_code == 2


def test_repeated_param_keeps_the_last():
    assert parse_params(["ratio=0.5", "ratio=0.25", "compression=draco"]) == {"ratio": 0.25, "compression": "draco"}


@pytest.mark.parametrize(
    "name, kind",
    [
        ("a.png", "IMAGE"),
        ("a.JPG", "IMAGE"),
        ("a.jpeg", "IMAGE"),
        ("a.webp", "IMAGE"),
        ("a.mp4", "VIDEO"),
        ("a.MOV", "VIDEO"),
        ("a.webm", "VIDEO"),
        ("walk.bvh", "ANIMATION"),
        ("a.glb", "MODEL_3D"),
        ("a.gltf", "MODEL_3D"),
        ("a.fbx", "MODEL_3D"),
        ("a.obj", "MODEL_3D"),
        ("a.stl", "MODEL_3D"),
        ("a.ply", "MODEL_3D"),
        ("a.usdz", "MODEL_3D"),
        ("a.blend", "MODEL_3D"),
    ],
)
def test_kind_is_guessed_from_the_extension(name, kind):
    assert guess_kind(Path(name)) == kind
    assert content_type(Path(name), kind)


def test_a_job_slot_picks_the_kind_it_accepts():
    assert guess_kind(Path("dance.glb"), ("ANIMATION",)) == "ANIMATION"
    assert guess_kind(Path("dance.fbx"), ("ANIMATION",)) == "ANIMATION"
    assert guess_kind(Path("hero.glb"), ("MODEL_3D", "ANIMATION")) == "MODEL_3D"
    assert guess_kind(Path("walk.bvh"), ("MODEL_3D", "ANIMATION")) == "ANIMATION"
    for name, accepted in (("walk.obj", ("ANIMATION",)), ("clip.mp4", ("IMAGE",)), ("a.txt", None)):
        with pytest.raises(CliError) as caught:
            guess_kind(Path(name), accepted)
        assert caught.value.exit_code == 2


def test_content_types_match_what_the_api_accepts():
    assert content_type(Path("a.jpg"), "IMAGE") == "image/jpeg"
    assert content_type(Path("a.mov"), "VIDEO") == "video/quicktime"
    assert content_type(Path("a.glb"), "ANIMATION") == "model/gltf-binary"
    with pytest.raises(CliError) as caught:
        content_type(Path("a.obj"), "ANIMATION")  # --kind ANIMATION on an OBJ
    assert caught.value.exit_code == 2


def test_json_and_api_are_accepted_before_or_after_the_command():
    parser = build_parser()
    before = parser.parse_args(["--json", "--api", "http://h:1", "projects", "list"])
    after = parser.parse_args(["projects", "list", "--json", "--api", "http://h:1"])
    plain = parser.parse_args(["projects", "list"])
    assert (before.json, before.api) == (after.json, after.api) == (True, "http://h:1")
    assert (plain.json, plain.api) == (False, None)


def test_run_arguments():
    args = build_parser().parse_args(
        [
            "run",
            "motion-capture",
            "--project",
            "p",
            "--input",
            "a.mp4",
            "--param",
            "smoothing=0.3",
            "--param",
            "rootMotion=true",
            "--webhook",
            "https://example.com/h",
            "--wait",
        ]
    )
    assert (args.type, args.project, args.input, args.wait) == ("MOTION_CAPTURE", "p", ["a.mp4"], True)
    assert parse_params(args.param) == {"smoothing": 0.3, "rootMotion": True}
    assert (
        build_parser().parse_args(["run", "animate", "--project", "p", "--avatar", ASSET_A, "--motion", ASSET_B]).type
        == "ANIMATE"
    )


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["run", "FLY", "--project", "p"],
        ["run", "CONVERT"],
        ["projects"],
        ["jobs", "list", "--status", "DONE"],
        ["upload", "p"],
        ["upload", "p", "f.glb", "--kind", "MESH"],
    ],
)
def test_bad_command_lines_exit_2(argv, capsys):
    assert main(argv) == 2
    assert "usage:" in capsys.readouterr().err


def test_help_exits_0(capsys):
    assert main(["run", "--help"]) == 0
    assert "--param NAME=VALUE" in capsys.readouterr().out


def _run_args(job_type, inputs=(), avatar=None, motion=None, prompt=None) -> Namespace:
    return Namespace(type=job_type, project="p", input=list(inputs), avatar=avatar, motion=motion, prompt=prompt)


def test_inputs_map_to_the_types_input_names():
    assert job_inputs(None, None, _run_args("MOTION_CAPTURE", [ASSET_A])) == {"videoAssetId": ASSET_A}
    assert job_inputs(None, None, _run_args("IMAGE_TO_3D", [ASSET_A])) == {"imageAssetId": ASSET_A}
    assert job_inputs(None, None, _run_args("CONVERT", [ASSET_A])) == {"modelAssetId": ASSET_A}
    assert job_inputs(None, None, _run_args("OPTIMIZE", [ASSET_A])) == {"modelAssetId": ASSET_A}
    assert job_inputs(None, None, _run_args("TEXT_TO_AVATAR", prompt="a knight")) == {"prompt": "a knight"}
    both = {"avatarAssetId": ASSET_A, "motionAssetId": ASSET_B}
    assert job_inputs(None, None, _run_args("ANIMATE", [ASSET_A, ASSET_B])) == both
    assert job_inputs(None, None, _run_args("ANIMATE", avatar=ASSET_A, motion=ASSET_B)) == both
    assert job_inputs(None, None, _run_args("ANIMATE", [ASSET_B], avatar=ASSET_A)) == both


@pytest.mark.parametrize(
    "args",
    [
        _run_args("MOTION_CAPTURE"),
        _run_args("MOTION_CAPTURE", [ASSET_A, ASSET_B]),
        _run_args("ANIMATE", [ASSET_A]),
        _run_args("TEXT_TO_AVATAR"),
        _run_args("TEXT_TO_AVATAR", [ASSET_A], prompt="x"),
        _run_args("CONVERT", [ASSET_A], prompt="x"),
        _run_args("CONVERT", [ASSET_A], avatar=ASSET_B),
        _run_args("CONVERT", ["no-such-file.glb"]),
    ],
)
def test_wrong_inputs_are_usage_errors(args):
    with pytest.raises(CliError) as caught:
        job_inputs(None, None, args)
    assert caught.value.exit_code == 2
