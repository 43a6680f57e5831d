"""The avatar prompt parser: the documented vocabulary maps to attributes, unknown words are ignored, seeds fill the rest."""

from __future__ import annotations

from container_workers.gpu_worker.avatar.prompt import COLOURS, HAIR_COLOURS, parse, tokens

from .conftest import EXAMPLE_PROMPT


def test_the_example_prompt():
    spec = parse(EXAMPLE_PROMPT, seed=1)
    assert spec.sex == "female" and spec.age == "adult"
    assert spec.height > 1.78  # taller than an average woman (1.65 m)
    assert spec.muscle >= 0.8
    assert spec.hair_style == "short" and spec.hair_colour == "red" and spec.hair_rgb == HAIR_COLOURS["red"]
    jacket, jeans = spec.garments["outer"], spec.garments["bottom"]
    assert (jacket.kind, jacket.colour, jacket.rgb) == ("jacket", "blue", COLOURS["blue"])
    assert (jeans.kind, jeans.colour, jeans.rgb) == ("jeans", "black", COLOURS["black"])
    assert spec.ignored == []
    assert {"tall", "muscular", "woman", "short", "red", "hair", "blue", "jacket", "black", "jeans"} <= set(
        spec.recognized
    )
    assert "sex" not in spec.from_seed and "hair_colour" not in spec.from_seed


def test_unknown_words_are_ignored_and_reported():
    plain = parse(EXAMPLE_PROMPT, seed=1)
    noisy = parse("a " + EXAMPLE_PROMPT + ", holding a glowing sword on the moon", seed=1)
    assert set(noisy.ignored) == {"holding", "glowing", "sword", "moon"}
    assert noisy.describe() | {"ignored": [], "recognized": []} == plain.describe() | {"ignored": [], "recognized": []}
    gibberish = parse("zorgle blarp", seed=5)
    assert gibberish.ignored == ["zorgle", "blarp"] and gibberish.recognized == []


def test_modifiers_attach_to_the_next_noun_or_to_the_body():
    spec = parse("short man with long blonde hair in a long coat", seed=2)
    assert spec.sex == "male" and spec.height < 1.7
    assert spec.hair_style == "long" and spec.hair_colour == "blonde"
    assert spec.garments["outer"].kind == "coat" and spec.garments["outer"].length == "long"
    later = parse("a woman, tall and slim, dark skin", seed=2)
    assert later.height > 1.75 and later.weight < 0 and later.skin == "dark"


def test_compounds_multiword_terms_and_heights():
    assert tokens("red-haired T-shirt blue-eyed dark-skinned tank top") == [
        "red",
        "hair",
        "tshirt",
        "blue",
        "eyes",
        "dark",
        "skin",
        "tanktop",
    ]
    spec = parse("a 190 cm bald bearded man in a black suit, blue-eyed", seed=0)
    assert abs(spec.height - 1.90) < 1e-9 and spec.hair_style == "bald" and spec.beard and spec.eye_colour == "blue"
    assert {g.slot: (g.kind, g.colour) for g in spec.garments.values()} == {
        "top": ("shirt", "white"),
        "bottom": ("trousers", "black"),
        "outer": ("jacket", "black"),
        "feet": ("shoes", "black"),
    }
    assert abs(parse("woman, 5'4\"", seed=0).height - 1.6256) < 1e-3
    dress = parse("girl in a long yellow dress, barefoot", seed=0)
    assert dress.age == "teen" and set(dress.garments) == {"dress"} and dress.garments["dress"].length == "long"


def test_same_seed_same_spec_other_seed_other_defaults():
    assert parse("a person", seed=11).describe() == parse("a person", seed=11).describe()
    looks = {str(parse("a person", seed=s).describe()) for s in range(8)}
    assert len(looks) > 4
    assert all(parse(EXAMPLE_PROMPT, seed=s).hair_colour == "red" for s in range(8))
