"""A deterministic avatar prompt parser with a fixed, documented vocabulary (unknown words are ignored and reported).

The prompt is read as noun phrases: modifiers (colours, lengths, sizes) attach to the next noun ("short red hair",
"blue jacket"); a modifier that does not fit that noun but describes a body ("tall", "muscular", "pale") applies to the
body, and so do modifiers left over at the end ("a woman, tall and slim"). Attributes the prompt leaves open are drawn
from the seed, so the same prompt and seed always give the same avatar.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import numpy as np

# ---- vocabulary -------------------------------------------------------------------------------------------------
COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (28, 28, 30),
    "white": (235, 235, 232),
    "grey": (128, 128, 130),
    "gray": (128, 128, 130),
    "silver": (192, 192, 198),
    "charcoal": (60, 62, 66),
    "red": (180, 32, 36),
    "crimson": (160, 20, 45),
    "maroon": (110, 25, 35),
    "burgundy": (110, 25, 40),
    "orange": (230, 120, 30),
    "yellow": (235, 200, 40),
    "gold": (212, 170, 60),
    "golden": (212, 170, 60),
    "green": (40, 130, 60),
    "olive": (110, 115, 50),
    "lime": (150, 200, 50),
    "teal": (20, 128, 128),
    "turquoise": (40, 190, 180),
    "cyan": (40, 190, 210),
    "blue": (40, 80, 170),
    "navy": (25, 35, 80),
    "purple": (110, 50, 140),
    "violet": (130, 70, 180),
    "lavender": (180, 160, 215),
    "pink": (230, 140, 170),
    "magenta": (200, 40, 140),
    "brown": (110, 72, 45),
    "tan": (190, 150, 105),
    "beige": (215, 195, 160),
    "khaki": (190, 175, 130),
    "cream": (240, 230, 205),
    "denim": (60, 90, 140),
}
SHADES = {"dark": "dark", "deep": "dark", "light": "light", "pale": "light", "bright": "bright", "pastel": "light"}
SKIN_TONES: dict[str, tuple[int, int, int]] = {
    "pale": (244, 219, 203),
    "fair": (236, 200, 175),
    "light": (228, 188, 160),
    "medium": (205, 158, 122),
    "olive": (192, 152, 108),
    "tan": (185, 136, 97),
    "brown": (145, 98, 68),
    "dark": (104, 70, 50),
    "deep": (74, 50, 38),
}
# colour words that describe skin when attached to a body or to "skin"
SKIN_WORDS = {
    "pale": "pale",
    "fair": "fair",
    "light": "light",
    "white": "fair",
    "medium": "medium",
    "olive": "olive",
    "tan": "tan",
    "tanned": "tan",
    "brown": "brown",
    "dark": "dark",
    "black": "deep",
    "deep": "deep",
    "ebony": "deep",
}
HAIR_COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (28, 24, 22),
    "dark brown": (62, 42, 30),
    "brown": (96, 64, 42),
    "light brown": (140, 102, 66),
    "auburn": (125, 52, 32),
    "red": (165, 68, 34),
    "ginger": (180, 90, 40),
    "blonde": (214, 180, 116),
    "platinum": (232, 226, 208),
    "grey": (150, 150, 152),
    "white": (232, 232, 230),
    "silver": (196, 196, 200),
}
HAIR_COLOUR_WORDS = {
    "black": "black",
    "brown": "brown",
    "brunette": "dark brown",
    "auburn": "auburn",
    "red": "red",
    "ginger": "ginger",
    "blonde": "blonde",
    "blond": "blonde",
    "fair": "blonde",
    "platinum": "platinum",
    "grey": "grey",
    "gray": "grey",
    "white": "white",
    "silver": "silver",
}
HAIR_STYLES = ("bald", "buzz", "short", "medium", "long", "ponytail", "bun", "afro")
HAIR_LENGTH_WORDS = {
    "bald": "bald",
    "shaved": "buzz",
    "buzzed": "buzz",
    "buzzcut": "buzz",
    "short": "short",
    "cropped": "short",
    "medium": "medium",
    "shoulderlength": "medium",
    "long": "long",
}
HAIR_TEXTURES = {"curly": "curly", "wavy": "wavy", "straight": "straight"}
EYE_COLOURS: dict[str, tuple[int, int, int]] = {
    "brown": (92, 58, 32),
    "dark": (50, 32, 22),
    "hazel": (130, 100, 50),
    "green": (70, 120, 70),
    "blue": (70, 120, 180),
    "grey": (120, 130, 140),
    "gray": (120, 130, 140),
    "amber": (170, 120, 40),
}
SEXES = {
    "man": "male",
    "men": "male",
    "male": "male",
    "guy": "male",
    "gentleman": "male",
    "boy": "male",
    "father": "male",
    "dad": "male",
    "grandfather": "male",
    "grandpa": "male",
    "king": "male",
    "woman": "female",
    "women": "female",
    "female": "female",
    "lady": "female",
    "girl": "female",
    "mother": "female",
    "mom": "female",
    "mum": "female",
    "grandmother": "female",
    "grandma": "female",
    "queen": "female",
    "person": None,
    "human": None,
    "character": None,
    "figure": None,
    "avatar": None,
    "adult": None,
    "someone": None,
    "child": None,
    "kid": None,
    "teen": None,
    "teenager": None,
}
AGES = {
    "child": "child",
    "kid": "child",
    "toddler": "child",
    "boy": "teen",
    "girl": "teen",
    "teen": "teen",
    "teenager": "teen",
    "teenage": "teen",
    "young": "adult",
    "adult": "adult",
    "middleaged": "adult",
    "old": "elderly",
    "elderly": "elderly",
    "senior": "elderly",
    "aged": "elderly",
    "grandfather": "elderly",
    "grandpa": "elderly",
    "grandmother": "elderly",
    "grandma": "elderly",
}
HEIGHT_WORDS = {
    "short": -0.11,
    "petite": -0.08,
    "small": -0.07,
    "tiny": -0.16,
    "tall": 0.11,
    "big": 0.05,
    "giant": 0.28,
    "huge": 0.12,
    "lanky": 0.09,
}
BUILDS: dict[str, tuple[float, float]] = {  # word -> (weight -1 slim .. +1 heavy, muscle 0..1)
    "slim": (-0.5, 0.1),
    "thin": (-0.7, 0.0),
    "skinny": (-0.9, 0.0),
    "slender": (-0.5, 0.1),
    "lean": (-0.4, 0.3),
    "petite": (-0.4, 0.0),
    "lanky": (-0.6, 0.1),
    "average": (0.0, 0.2),
    "normal": (0.0, 0.2),
    "athletic": (-0.15, 0.55),
    "fit": (-0.15, 0.5),
    "sporty": (-0.15, 0.5),
    "toned": (-0.1, 0.5),
    "muscular": (0.05, 0.85),
    "strong": (0.1, 0.7),
    "buff": (0.05, 0.9),
    "brawny": (0.15, 0.85),
    "stocky": (0.4, 0.4),
    "heavy": (0.6, 0.2),
    "chubby": (0.55, 0.1),
    "plump": (0.55, 0.1),
    "fat": (0.8, 0.1),
    "overweight": (0.75, 0.1),
    "large": (0.45, 0.3),
    "big": (0.4, 0.35),
    "curvy": (0.3, 0.2),
    "huge": (0.5, 0.6),
}
# garment noun -> (slot, kind); a suit/tuxedo and a dress fill several slots
GARMENTS: dict[str, tuple[str, str]] = {
    "tshirt": ("top", "tshirt"),
    "tee": ("top", "tshirt"),
    "polo": ("top", "tshirt"),
    "top": ("top", "tshirt"),
    "shirt": ("top", "shirt"),
    "blouse": ("top", "shirt"),
    "tanktop": ("top", "tanktop"),
    "singlet": ("top", "tanktop"),
    "sweater": ("top", "sweater"),
    "jumper": ("top", "sweater"),
    "pullover": ("top", "sweater"),
    "sweatshirt": ("top", "sweater"),
    "hoodie": ("top", "sweater"),
    "turtleneck": ("top", "turtleneck"),
    "jacket": ("outer", "jacket"),
    "blazer": ("outer", "jacket"),
    "cardigan": ("outer", "jacket"),
    "coat": ("outer", "coat"),
    "trenchcoat": ("outer", "coat"),
    "parka": ("outer", "coat"),
    "overcoat": ("outer", "coat"),
    "jeans": ("bottom", "jeans"),
    "trousers": ("bottom", "trousers"),
    "pants": ("bottom", "trousers"),
    "slacks": ("bottom", "trousers"),
    "chinos": ("bottom", "trousers"),
    "joggers": ("bottom", "trousers"),
    "sweatpants": ("bottom", "trousers"),
    "leggings": ("bottom", "leggings"),
    "shorts": ("bottom", "shorts"),
    "skirt": ("bottom", "skirt"),
    "miniskirt": ("bottom", "miniskirt"),
    "dress": ("dress", "dress"),
    "gown": ("dress", "gown"),
    "suit": ("suit", "suit"),
    "tuxedo": ("suit", "tuxedo"),
    "shoes": ("feet", "shoes"),
    "sneakers": ("feet", "shoes"),
    "trainers": ("feet", "shoes"),
    "heels": ("feet", "shoes"),
    "loafers": ("feet", "shoes"),
    "sandals": ("feet", "shoes"),
    "boots": ("feet", "boots"),
    "hat": ("head", "hat"),
    "fedora": ("head", "hat"),
    "cap": ("head", "cap"),
    "beanie": ("head", "beanie"),
    "gloves": ("hands", "gloves"),
}
GARMENT_LENGTHS = {
    "long": "long",
    "short": "short",
    "longsleeved": "long",
    "shortsleeved": "short",
    "sleeveless": "none",
    "mini": "short",
    "maxi": "long",
}
DEFAULT_GARMENT_COLOURS = {"jeans": "denim", "tuxedo": "black"}
HAIR_NOUNS = {"hair": None, "haircut": None, "ponytail": "ponytail", "bun": "bun", "afro": "afro", "buzzcut": "buzz"}
BEARD_NOUNS = {"beard", "goatee", "stubble"}
BODY_BEARD_WORDS = {"bearded"}
NO_WORDS = {"barefoot": "feet", "shirtless": "top", "topless": "top", "clean-shaven": "beard", "beardless": "beard"}
STOPWORDS = {
    "a",
    "an",
    "the",
    "with",
    "and",
    "in",
    "wearing",
    "wears",
    "who",
    "is",
    "has",
    "having",
    "of",
    "on",
    "his",
    "her",
    "their",
    "its",
    "some",
    "pair",
    "pairs",
    "plus",
    "also",
    "dressed",
    "over",
    "under",
    "to",
    "very",
    "extremely",
    "really",
    "quite",
    "slightly",
    "bit",
    "skin",
    "eyes",
    "eye",
    "hair",
    "haired",
    "eyed",
    "skinned",
}
INTENSIFIERS = {"very": 1.5, "extremely": 1.8, "really": 1.4, "quite": 1.2, "slightly": 0.5, "bit": 0.6}
MULTIWORD = [  # joined before tokenising
    (r"\bt[\s-]?shirts?\b", "tshirt"),
    (r"\btank[\s-]tops?\b", "tanktop"),
    (r"\b(buzz|crew)[\s-]cut\b", "buzzcut"),
    (r"\bshoulder[\s-]length\b", "shoulderlength"),
    (r"\blong[\s-]sleeved?\b", "longsleeved"),
    (r"\bshort[\s-]sleeved?\b", "shortsleeved"),
    (r"\bmiddle[\s-]aged\b", "middleaged"),
    (r"\btrench[\s-]coat\b", "trenchcoat"),
    (r"\bhigh[\s-]heels\b", "heels"),
    (r"\bbaseball[\s-]cap\b", "cap"),
    (r"\bclean[\s-]shaven\b", "clean-shaven"),
    (r"\bsweat[\s-]?shirt\b", "sweatshirt"),
    (r"\bmini[\s-]skirt\b", "miniskirt"),
]
_HEIGHT_RE = re.compile(
    r"\b(\d(?:\.\d+)?)\s*m\b|\b(\d{2,3})\s*cm\b|\b(\d)\s*(?:ft|feet|foot|')\s*(\d{1,2})?\s*(?:in|inches|\")?"
)

# ---- the result ------------------------------------------------------------------------------------------------


@dataclass
class Garment:
    """One piece of clothing: its slot (top, outer, bottom, dress, feet, head, hands), kind, length and colour."""

    slot: str
    kind: str
    colour: str
    rgb: tuple[int, int, int]
    length: str = "default"  # sleeve or hem length: "none", "short", "default", "long"


@dataclass
class AvatarSpec:
    """Everything the avatar generator needs, parsed from a prompt and completed from a seed."""

    sex: str = "neutral"  # female, male, neutral
    age: str = "adult"  # child, teen, adult, elderly
    height: float = 1.72  # metres, top of the head
    weight: float = 0.0  # -1 slim .. +1 heavy
    muscle: float = 0.2  # 0 .. 1
    skin: str = "medium"
    skin_rgb: tuple[int, int, int] = SKIN_TONES["medium"]
    hair_style: str = "short"
    hair_colour: str = "brown"
    hair_rgb: tuple[int, int, int] = HAIR_COLOURS["brown"]
    hair_texture: str = "straight"
    beard: bool = False
    beard_colour: str = "brown"
    beard_rgb: tuple[int, int, int] = HAIR_COLOURS["brown"]
    eye_colour: str = "brown"
    eye_rgb: tuple[int, int, int] = EYE_COLOURS["brown"]
    garments: dict[str, Garment] = field(default_factory=dict)
    proportions: dict[str, float] = field(default_factory=dict)  # extra bone-length factors per chain (leg, arm...)
    recognized: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    from_seed: list[str] = field(default_factory=list)

    def describe(self) -> dict:
        """The attributes used, as JSON-serialisable metadata."""
        data = asdict(self)
        data["height"] = round(self.height, 3)
        data["weight"] = round(self.weight, 3)
        data["muscle"] = round(self.muscle, 3)
        data["garments"] = [asdict(g) for g in self.garments.values()]
        return data


# ---- parsing ----------------------------------------------------------------------------------------------------


def _shade(rgb, shade: str | None) -> tuple[int, int, int]:
    c = np.asarray(rgb, dtype=np.float64)
    if shade == "dark":
        c = c * 0.55
    elif shade == "light":
        c = c + (255 - c) * 0.45
    elif shade == "bright":
        grey = c.mean()
        c = np.clip(grey + (c - grey) * 1.35 + 15, 0, 255)
    return tuple(round(v) for v in np.clip(c, 0, 255).tolist())


def tokens(prompt: str) -> list[str]:
    """Lower-case word tokens with multi-word terms joined and compounds like "red-haired" split into "red hair"."""
    text = prompt.lower()
    text = _HEIGHT_RE.sub(" ", text)
    for pattern, joined in MULTIWORD:
        text = re.sub(pattern, joined, text)
    out: list[str] = []
    for word in re.findall(r"[a-z][a-z'-]*", text):
        word = word.strip("'-")
        if word in NO_WORDS:
            out.append(word)
            continue
        parts = [p for p in word.split("-") if p]
        for suffix, noun in (("haired", "hair"), ("eyed", "eyes"), ("skinned", "skin")):
            if len(parts) > 1 and parts[-1] == suffix:
                parts = parts[:-1] + [noun]
        out.extend(parts)
    return out


def _explicit_height(prompt: str) -> float | None:
    match = _HEIGHT_RE.search(prompt.lower())
    if not match:
        return None
    metres, cm, feet, inches = match.groups()
    if metres:
        value = float(metres)
    elif cm:
        value = float(cm) / 100.0
    else:
        value = (int(feet) * 12 + int(inches or 0)) * 0.0254
    return value if 0.8 <= value <= 2.3 else None


class _Reader:
    """Collects what the words say before defaults are drawn."""

    def __init__(self):
        self.sex: str | None = None
        self.age: str | None = None
        self.height_delta = 0.0
        self.build: list[tuple[float, float]] = []
        self.skin: str | None = None
        self.hair_style: str | None = None
        self.hair_colour: tuple[str, tuple[int, int, int]] | None = None
        self.hair_texture: str | None = None
        self.beard: bool | None = None
        self.beard_colour: str | None = None
        self.eyes: str | None = None
        self.garments: dict[str, Garment] = {}
        self.bare: set[str] = set()
        self.recognized: list[str] = []
        self.ignored: list[str] = []

    def body_modifier(self, word: str, intensity: float) -> bool:
        """Apply a word that describes a body; False if it is not one."""
        used = False
        if word in HEIGHT_WORDS:
            self.height_delta += HEIGHT_WORDS[word] * intensity
            used = True
        if word in BUILDS:
            weight, muscle = BUILDS[word]
            self.build.append((weight * intensity, min(1.0, muscle * intensity) if muscle > 0.3 else muscle))
            used = True
        if word in AGES:
            self.age = AGES[word]
            used = True
        if used:
            return True
        if word in SKIN_WORDS:
            self.skin = SKIN_WORDS[word]
        elif word in BODY_BEARD_WORDS:
            self.beard = True
        elif word in ("blonde", "blond", "brunette", "redhead", "ginger"):
            name = HAIR_COLOUR_WORDS.get(word, "red")
            self.hair_colour = (name, HAIR_COLOURS[name])
        elif word == "bald":
            self.hair_style = "bald"
        else:
            return False
        return True

    def leftovers(self, pending: list[tuple[str, float]], taken: set[str] = frozenset()) -> list:
        """Modifiers a noun did not take: body words apply to the body, the rest are ignored. Returns an empty list."""
        for word, intensity in pending:
            if word not in taken and not self.body_modifier(word, intensity):
                self.ignored.append(word)
                self.recognized.remove(word)
        return []


def _is_modifier(word: str) -> bool:
    return any(
        word in table
        for table in (
            COLOURS,
            SHADES,
            SKIN_WORDS,
            HAIR_COLOUR_WORDS,
            HEIGHT_WORDS,
            BUILDS,
            AGES,
            HAIR_LENGTH_WORDS,
            HAIR_TEXTURES,
            GARMENT_LENGTHS,
            EYE_COLOURS,
            BODY_BEARD_WORDS,
            ("redhead",),
        )
    )


def _colour_of(pending: list[tuple[str, float]], fallback: str) -> tuple[str, tuple[int, int, int]] | None:
    """The colour the modifiers name ("dark blue"), a shade of `fallback` when only a shade is given, else None."""
    shade = next((SHADES[w] for w, _ in pending if w in SHADES), None)
    colour = next((w for w, _ in reversed(pending) if w in COLOURS), None)
    if colour is None and shade is None:
        return None
    colour = colour or fallback
    return (f"{shade} {colour}" if shade else colour), _shade(COLOURS[colour], shade)


def parse(prompt: str, seed: int) -> AvatarSpec:
    """Parse a prompt into an AvatarSpec; unspecified attributes come from `seed`."""
    reader = _Reader()
    pending: list[tuple[str, float]] = []
    intensity = 1.0
    for word in tokens(prompt):
        if word in INTENSIFIERS:
            intensity = INTENSIFIERS[word]
            continue
        if word in NO_WORDS:
            reader.bare.add(NO_WORDS[word])
            reader.recognized.append(word)
        elif word in SEXES:
            reader.recognized.append(word)
            reader.sex = SEXES[word] or reader.sex
            reader.age = AGES.get(word, reader.age)
            pending = reader.leftovers(pending)
        elif word in HAIR_NOUNS:
            reader.recognized.append(word)
            pending = reader.leftovers(pending, _take_hair(reader, HAIR_NOUNS[word], pending))
        elif word in ("eyes", "eye"):
            reader.recognized.append(word)
            colour = next((w for w, _ in reversed(pending) if w in EYE_COLOURS), None)
            reader.eyes = colour or reader.eyes
            pending = reader.leftovers(pending, {colour})
        elif word == "skin":
            reader.recognized.append(word)
            tone = next((w for w, _ in reversed(pending) if w in SKIN_WORDS), None)
            reader.skin = SKIN_WORDS[tone] if tone else reader.skin
            pending = reader.leftovers(pending, {tone})
        elif word in BEARD_NOUNS:
            reader.recognized.append(word)
            reader.beard = True
            colour = next((w for w, _ in reversed(pending) if w in HAIR_COLOUR_WORDS), None)
            reader.beard_colour = HAIR_COLOUR_WORDS[colour] if colour else reader.beard_colour
            pending = reader.leftovers(pending, {colour})
        elif word in GARMENTS:
            reader.recognized.append(word)
            pending = reader.leftovers(pending, _take_garment(reader, word, pending))
        elif _is_modifier(word):
            reader.recognized.append(word)
            pending.append((word, intensity))
        elif word not in STOPWORDS:
            reader.ignored.append(word)
        intensity = 1.0
    reader.leftovers(pending)
    return _complete(reader, prompt, seed)


def _take_hair(reader: _Reader, style: str | None, pending: list[tuple[str, float]]) -> set[str]:
    """Apply hair modifiers (length, texture, colour) to the hair; returns the words taken."""
    taken = set()
    for word, _ in pending:
        if word in HAIR_LENGTH_WORDS:
            reader.hair_style = style or HAIR_LENGTH_WORDS[word]
            taken.add(word)
        elif word in HAIR_TEXTURES:
            reader.hair_texture = HAIR_TEXTURES[word]
            taken.add(word)
    if style:
        reader.hair_style = style
    shade = next((SHADES[w] for w, _ in pending if w in SHADES), None)
    word = next((w for w, _ in reversed(pending) if w in HAIR_COLOUR_WORDS or w in COLOURS), None)
    if word in HAIR_COLOUR_WORDS:
        name = HAIR_COLOUR_WORDS[word]
        rgb = HAIR_COLOURS[name]
        if shade and name == "brown":
            name = f"{shade} brown" if f"{shade} brown" in HAIR_COLOURS else name
            rgb = HAIR_COLOURS[name]
        elif shade:
            name, rgb = f"{shade} {name}", _shade(rgb, shade)
        reader.hair_colour = (name, rgb)
    elif word is not None or shade is not None:
        reader.hair_colour = (
            _colour_of(pending, "brown") if word else (f"{shade} brown", _shade(HAIR_COLOURS["brown"], shade))
        )
    if word is not None or shade is not None:
        taken.update(w for w, _ in pending if w in SHADES or w == word)
    return taken


def _take_garment(reader: _Reader, noun: str, pending: list[tuple[str, float]]) -> set[str]:
    """Add a garment with the colour and length its modifiers give; returns the words taken."""
    slot, kind = GARMENTS[noun]
    default = DEFAULT_GARMENT_COLOURS.get(kind)
    colour = _colour_of(pending, default or "grey") or ((default, COLOURS[default]) if default else ("", (0, 0, 0)))
    length = next((GARMENT_LENGTHS[w] for w, _ in pending if w in GARMENT_LENGTHS), "default")
    reader.garments[slot] = Garment(slot, kind, colour[0], colour[1], length)
    return {w for w, _ in pending if w in COLOURS or w in SHADES or w in GARMENT_LENGTHS}


# ---- defaults from the seed -----------------------------------------------------------------------------------

_DEFAULT_TOPS = ("tshirt", "tshirt", "shirt", "sweater")
_DEFAULT_BOTTOMS = ("jeans", "trousers", "trousers")
_CLOTH_COLOURS = (
    "white",
    "black",
    "grey",
    "navy",
    "blue",
    "red",
    "green",
    "beige",
    "charcoal",
    "burgundy",
    "teal",
    "khaki",
)
_BASE_HEIGHT = {
    ("male", "adult"): 1.78,
    ("female", "adult"): 1.65,
    ("neutral", "adult"): 1.72,
    ("male", "teen"): 1.66,
    ("female", "teen"): 1.60,
    ("neutral", "teen"): 1.63,
    ("male", "child"): 1.22,
    ("female", "child"): 1.20,
    ("neutral", "child"): 1.21,
    ("male", "elderly"): 1.74,
    ("female", "elderly"): 1.61,
    ("neutral", "elderly"): 1.68,
}


def _complete(reader: _Reader, prompt: str, seed: int) -> AvatarSpec:
    rng = np.random.default_rng(np.random.SeedSequence([seed & 0xFFFFFFFF, 0xA7A7]))
    spec = AvatarSpec(recognized=list(reader.recognized), ignored=list(reader.ignored))
    spec.sex = reader.sex or ["female", "male"][int(rng.integers(2))]
    if reader.sex is None:
        spec.from_seed.append("sex")
    spec.age = reader.age or "adult"
    explicit = _explicit_height(prompt)
    base = _BASE_HEIGHT[(spec.sex, spec.age)] * (1.0 + float(rng.normal(0, 0.015)))
    spec.height = float(np.clip(explicit if explicit else base * (1.0 + reader.height_delta), 0.9, 2.3))
    if reader.build:
        spec.weight = float(np.clip(np.mean([b[0] for b in reader.build]), -1, 1))
        spec.muscle = float(np.clip(max(b[1] for b in reader.build), 0, 1))
    else:
        spec.weight, spec.muscle = float(rng.uniform(-0.3, 0.3)), float(rng.uniform(0.1, 0.4))
        spec.from_seed.append("build")
    if reader.skin is None:
        spec.from_seed.append("skin")
    spec.skin = reader.skin or list(SKIN_TONES)[int(rng.integers(len(SKIN_TONES)))]
    spec.skin_rgb = SKIN_TONES[spec.skin]
    if reader.hair_style is None:
        spec.from_seed.append("hair_style")
        choices = (
            ("short", "medium", "long", "long", "ponytail", "bun")
            if spec.sex == "female"
            else ("short", "short", "buzz", "medium")
        )
        spec.hair_style = choices[int(rng.integers(len(choices)))]
    else:
        spec.hair_style = reader.hair_style
    if reader.hair_colour is None:
        spec.from_seed.append("hair_colour")
        names = (
            ("grey", "white", "silver")
            if spec.age == "elderly"
            else ("black", "dark brown", "brown", "light brown", "blonde", "auburn")
        )
        name = names[int(rng.integers(len(names)))]
        reader.hair_colour = (name, HAIR_COLOURS[name])
    spec.hair_colour, spec.hair_rgb = reader.hair_colour
    spec.hair_texture = reader.hair_texture or "straight"
    spec.beard = bool(reader.beard) and "beard" not in reader.bare
    if reader.beard_colour:
        spec.beard_colour, spec.beard_rgb = reader.beard_colour, HAIR_COLOURS[reader.beard_colour]
    else:
        spec.beard_colour, spec.beard_rgb = spec.hair_colour, spec.hair_rgb
    if reader.eyes is None:
        spec.from_seed.append("eye_colour")
    spec.eye_colour = reader.eyes or ("brown", "brown", "hazel", "blue", "green", "grey")[int(rng.integers(6))]
    spec.eye_rgb = EYE_COLOURS[spec.eye_colour]
    spec.garments = _outfit(reader, rng, spec)
    return spec


def _pick_colour(rng, avoid: set[str]) -> tuple[str, tuple[int, int, int]]:
    names = [c for c in _CLOTH_COLOURS if c not in avoid]
    name = names[int(rng.integers(len(names)))]
    return name, COLOURS[name]


def _outfit(reader: _Reader, rng, spec: AvatarSpec) -> dict[str, Garment]:
    garments = dict(reader.garments)
    used = {g.colour for g in garments.values()}
    for garment in garments.values():
        if not garment.colour:
            garment.colour, garment.rgb = _pick_colour(rng, used)
            used.add(garment.colour)
    suit = garments.pop("suit", None)
    if suit is not None:
        garments.setdefault("outer", Garment("outer", "jacket", suit.colour, suit.rgb))
        garments.setdefault("bottom", Garment("bottom", "trousers", suit.colour, suit.rgb))
        garments.setdefault("top", Garment("top", "shirt", "white", COLOURS["white"]))
        garments.setdefault("feet", Garment("feet", "shoes", "black", COLOURS["black"]))
    dress = garments.get("dress")
    if "top" not in garments and dress is None and "top" not in reader.bare:
        kind = _DEFAULT_TOPS[int(rng.integers(len(_DEFAULT_TOPS)))]
        name, rgb = _pick_colour(rng, used)
        used.add(name)
        garments["top"] = Garment("top", kind, name, rgb)
        spec.from_seed.append("top")
    if "bottom" not in garments and dress is None:
        kind = _DEFAULT_BOTTOMS[int(rng.integers(len(_DEFAULT_BOTTOMS)))]
        name, rgb = ("denim", COLOURS["denim"]) if kind == "jeans" else _pick_colour(rng, used | {"white"})
        garments["bottom"] = Garment("bottom", kind, name, rgb)
        spec.from_seed.append("bottom")
    if "feet" not in garments and "feet" not in reader.bare:
        name = ("black", "white", "brown", "grey")[int(rng.integers(4))]
        garments["feet"] = Garment("feet", "shoes", name, COLOURS[name])
        spec.from_seed.append("feet")
    order = ("top", "dress", "bottom", "outer", "feet", "hands", "head")
    return {slot: garments[slot] for slot in order if slot in garments}
