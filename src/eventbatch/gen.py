"""Deterministic generator of realistic music-streaming client events.

The generator produces an endless, seed-addressable stream of client events
(``play``, ``skip``, ``search``, ...) as Python dicts or as newline-delimited
JSON (NDJSON), optionally with client re-sends (exact duplicates) and
malformed lines, and can stream very large files with bounded memory.

Design
------
Event ``i`` of the stream for a given ``seed`` is a pure function of
``(seed, i)``: events are generated in fixed blocks of ``_BLOCK`` events, and
every block draws from its own random generator seeded with
``(seed, block index, stream)``.  Duplicate decisions and malformed-line
decisions use their own independent per-block streams, so

* ``generate_dicts``, ``generate_ndjson`` and ``iter_ndjson_chunks`` agree for
  the same arguments whatever ``chunk_events`` is;
* ``start`` selects a window ``[start, start + n)`` of the same stream, so
  ``generate_ndjson(a + b)`` ends with ``generate_ndjson(b, start=a)``;
* turning duplicates or malformed lines on does not change the other events.

The NDJSON text is rendered directly from pre-encoded column pieces (this is
what makes the generator fast), and is byte-identical to
``json.dumps(d, separators=(",", ":"), ensure_ascii=False)`` of the
corresponding dict.

This module is standalone: it depends on numpy (and on pyarrow only for
:func:`event_schema`).
"""

from __future__ import annotations

import gzip
import json
import math
import os
from functools import lru_cache
from typing import Any, Iterator

import numpy as np

__all__ = [
    "EVENT_TYPES",
    "EVENT_PAYLOAD_FIELDS",
    "PAYLOAD_FIELD_TYPES",
    "MALFORMED_KINDS",
    "event_schema",
    "generate_dicts",
    "generate_ndjson",
    "iter_ndjson_chunks",
    "write_ndjson",
]

# ---------------------------------------------------------------------------
# Public constants
# ---------------------------------------------------------------------------

_TYPE_NAMES = (
    "play", "skip", "pause", "resume", "search", "seek", "queue_add", "like",
    "volume_change", "ad_impression", "add_to_playlist", "shuffle_toggle",
    "repeat_toggle", "login", "logout", "share", "error", "follow", "unlike",
    "remove_from_playlist", "ad_click", "unfollow",
)
_ZIPF_S = 1.1
_zipf_w = [1.0 / (r ** _ZIPF_S) for r in range(1, len(_TYPE_NAMES) + 1)]

#: Event type -> probability (Zipf-like with exponent 1.1, most frequent first:
#: ``play`` ~30 %, ``skip`` ~14 %, ..., ``unfollow`` ~1 %).
EVENT_TYPES: dict[str, float] = {
    name: w / sum(_zipf_w) for name, w in zip(_TYPE_NAMES, _zipf_w)
}

#: Payload field -> type name (one fixed type per field across event types).
#: Type names are Arrow type names (``string``, ``int64``, ``int32``, ``float64``, ``bool``).
PAYLOAD_FIELD_TYPES: dict[str, str] = {
    "track_id": "string",
    "ms_played": "int64",
    "position_ms": "int64",
    "shuffle": "bool",
    "source": "string",
    "context_uri": "string",
    "reason": "string",
    "query": "string",
    "results": "int32",
    "latency_ms": "float64",
    "level": "float64",
    "ad_id": "string",
    "duration_ms": "int64",
    "code": "int32",
    "message": "string",
    "playlist_id": "string",
    "target_id": "string",
    "method": "string",
    "enabled": "bool",
}

#: Event type -> payload fields it uses, in key order (3 to 6 fields each).
EVENT_PAYLOAD_FIELDS: dict[str, tuple[str, ...]] = {
    "play": ("track_id", "ms_played", "position_ms", "shuffle", "source", "context_uri"),
    "skip": ("track_id", "ms_played", "reason", "context_uri"),
    "pause": ("track_id", "position_ms", "reason"),
    "resume": ("track_id", "position_ms", "latency_ms"),
    "search": ("query", "results", "latency_ms", "source"),
    "seek": ("track_id", "position_ms", "ms_played", "latency_ms"),
    "queue_add": ("track_id", "source", "context_uri"),
    "like": ("track_id", "source", "context_uri"),
    "volume_change": ("level", "source", "track_id"),
    "ad_impression": ("ad_id", "duration_ms", "ms_played", "context_uri"),
    "add_to_playlist": ("track_id", "playlist_id", "source"),
    "shuffle_toggle": ("shuffle", "context_uri", "source"),
    "repeat_toggle": ("enabled", "context_uri", "track_id"),
    "login": ("method", "latency_ms", "code"),
    "logout": ("reason", "ms_played", "latency_ms"),
    "share": ("track_id", "method", "context_uri"),
    "error": ("code", "message", "track_id", "source"),
    "follow": ("target_id", "source", "context_uri"),
    "unlike": ("track_id", "source", "context_uri"),
    "remove_from_playlist": ("track_id", "playlist_id", "reason"),
    "ad_click": ("ad_id", "target_id", "ms_played"),
    "unfollow": ("target_id", "source", "reason"),
}

#: Kinds of malformed NDJSON lines produced when ``malformed_rate > 0``.
MALFORMED_KINDS: tuple[str, ...] = (
    "truncated",          # line cut short (possibly inside a UTF-8 sequence)
    "number_as_string",   # e.g. "ms_played":"123"
    "invalid_utf8",       # raw invalid UTF-8 bytes inside a string
    "trailing_garbage",   # e.g. {...}} or {...} xyz
    "missing_event_id",   # required field absent
    "bare_array",         # [ {...} ] instead of an object
    "nan_literal",        # "latency_ms":NaN
    "lone_surrogate",     # "\ud800" escape inside a string
    "control_char",       # raw, unescaped control character inside a string
    "leading_zero",       # "user_id":0123
    "trailing_comma",     # {...,}
)

# ---------------------------------------------------------------------------
# Internal constants
# ---------------------------------------------------------------------------

_BLOCK = 4096                      # events per RNG block (fixed: part of the format)
_MAGIC = 0x5EED_E7E7               # namespaces the seeds of this generator
_STREAM_EVENTS, _STREAM_DUPS, _STREAM_MALFORMED = 0, 1, 2
_T0_MS = 1_793_491_200_000         # 2026-11-01T00:00:00Z
_MEAN_GAP_MS = 25                  # 10M events span ~2.9 days
_PAYLOAD_NULL_P = 0.05             # per payload field
_N_USERS = 1 << 31                 # user-id space (a bijection of popularity rank)
_USER_RANKS = 3_000_000            # active users
_TOP_KEYS = (
    "event_id", "event_type", "user_id", "device_id", "client_ts",
    "country", "platform", "app_version", "payload",
)
_TOP_TEMPLATE = (
    '{"event_id":"%s","event_type":%s,"user_id":%s,"device_id":%s,'
    '"client_ts":%s,"country":%s,"platform":%s,"app_version":%s,"payload":%s}'
)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_B62 = np.frombuffer(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8
)
_U64 = np.uint64


# identical output to json.dumps(v, separators=(",", ":"), ensure_ascii=False)
_jdump = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


# ---------------------------------------------------------------------------
# Value pools (built once, seed independent)
# ---------------------------------------------------------------------------


class _Pool:
    """Categorical pool: raw values and their JSON text, plus a null sentinel.

    Index ``len(values)`` (``null``) maps to ``None`` / ``"null"``.
    """

    __slots__ = ("raw", "json", "null", "cum")

    def __init__(self, values, weights=None):
        values = list(values)
        self.null = len(values)
        self.raw = np.array(values + [None], dtype=object)
        self.json = np.array([_jdump(v) for v in values] + ["null"], dtype=object)
        if weights is None:
            self.cum = None
        else:
            w = np.asarray(list(weights), dtype=np.float64)
            self.cum = np.cumsum(w / w.sum())
            self.cum[-1] = 1.0

    def sample(self, rng: np.random.Generator, m: int) -> np.ndarray:
        if self.cum is None:
            return rng.integers(0, self.null, size=m)
        return np.searchsorted(self.cum, rng.random(m), side="right")

    def skewed(self, rng: np.random.Generator, m: int, power: float) -> np.ndarray:
        """Power-law pick: low indices are (much) more popular."""
        return (self.null * rng.random(m) ** power).astype(np.int64)


def _rows_to_str(mat: np.ndarray) -> list[str]:
    """(N, w) uint8 ASCII matrix -> list of N strings."""
    n, w = mat.shape
    if n == 0:
        return []
    s = np.ascontiguousarray(mat).tobytes().decode("ascii")
    return [s[i:i + w] for i in range(0, n * w, w)]


def _hex_matrix(b: np.ndarray) -> np.ndarray:
    """(N, k) uint8 -> (N, 2k) uint8 of lowercase hex digits."""
    n, k = b.shape
    out = np.empty((n, 2 * k), dtype=np.uint8)
    out[:, 0::2] = _HEX[b >> 4]
    out[:, 1::2] = _HEX[b & 15]
    return out


def _b62_strings(rng: np.random.Generator, n: int, length: int, prefix: str) -> list[str]:
    chars = _B62[rng.integers(0, 62, size=(n, length))]
    return [prefix + s for s in _rows_to_str(chars)]


_ARTISTS = [
    "Taylor Swift", "Drake", "Bad Bunny", "The Weeknd", "Beyoncé", "Sigur Rós",
    "Mötley Crüe", "Björk", "Céline Dion", "Rosalía", "Måneskin", "Ñengo Flow",
    "Zoé", "Stromae", "Mylène Farmer", "Anitta", "Tiësto", "Röyksopp", "周杰伦",
    "米津玄師", "宇多田ヒカル", "아이유", "방탄소년단", "BLACKPINK", "YOASOBI", "邓紫棋",
    "Fairuz", "عمرو دياب", "Кино", "Arijit Singh", "A. R. Rahman", "Dua Lipa",
    "Ed Sheeran", "Kendrick Lamar", "SZA", "Billie Eilish", "Olivia Rodrigo",
    "Karol G", "Peso Pluma", "Daft Punk", "Metallica", "AC/DC", "Guns N' Roses",
    "Florence + The Machine", "Sade", "Nina Simone", "Miles Davis",
    "Johann Sebastian Bach", "Ludovico Einaudi", "Arctic Monkeys", "Radiohead",
    "Fleetwood Mac", "Coldplay", "Imagine Dragons", "Shakira", "J Balvin",
    "Ariana Grande", "Post Malone", "Harry Styles", "Lana Del Rey", "Frank Ocean",
]
_PHRASES = [
    "lofi beats to study", "chill vibes", "workout mix", "running 180 bpm",
    "sleep sounds", "rain noise", "jazz café", "café del mar", "canción de cuna",
    "piano für elise", "música para dormir", "chanson française", "k-pop hits",
    "j-pop 2026", "anime openings", "summer hits 2026", "throwback 2000s",
    "road trip", "focus flow", "deep house", "techno berlin", "reggaeton viejo",
    "fado lisboa", "bossa nova", "motown classics", "sad songs", "happy hits",
    "party 🎉", "🔥 hot hits", "chill 😌", "❤️ love songs", "gym 💪",
    "good vibes ✨", "🎄 christmas", "😭 crying in the car", "☕ morning coffee",
    "🌙 late night", "夜に駆ける", "晴天", "우리의 밤", "Ελληνικά τραγούδια",
    "песни 90-х", "שירים בעברית", "موسيقى عربية", "เพลงไทย", "nhạc trẻ",
    "türkçe pop", "polskie disco", "svenska låtar", "live", "acoustic",
    "remix", "greatest hits", "radio", "unplugged", "instrumental",
    "10 hours", "sped up", "slowed + reverb", "karaoke version",
]
_SPECIAL_QUERIES = [
    '"bohemian rhapsody"', 'songs with "quotes"', "AC\\DC back in black",
    "C:\\music\\playlist.m3u", "line one\nline two", "tab\tseparated",
    'she said "hi"\\n', 'emoji 🎸 and "quotes"', '100% "pure" \\ hits',
    "bell\x07char", "weird\r\nCRLF", "\\u00e9 literally",
]

_ERROR_TEMPLATES = [
    (1001, "Network timeout after {ms} ms while fetching spotify:track:{b62}"),
    (1002, 'DNS lookup failed for host "audio-fa{k}.scdn.co": NXDOMAIN'),
    (2001, "Decoder error: unsupported codec 'vorbis' at offset {n}"),
    (3001, "DRM license request failed: HTTP 403 Forbidden\n  at LicenseManager.fetch (license.js:{k}:17)\n  at async Player.load"),
    (4001, "Auth token expired; refreshing (attempt {k}/3)"),
    (5003, "Cache write failed: C:\\Users\\user{k}\\AppData\\Local\\Spotify\\Storage\\{hex}.file: disk full"),
    (5004, 'Cannot open file "/data/user/0/com.spotify.music/cache/{hex}": Permission denied'),
    (429, "Rate limited: retry after {k}s"),
    (6001, 'Unexpected response: {{"error":{{"status":500,"message":"Internal Server Error"}}}}'),
    (7001, "Playback stalled: buffer underrun\tbitrate=320kbps\tposition={ms}"),
    (8001, "Échec de lecture : piste indisponible dans votre pays ({k})"),
    (8002, "再生エラー: このトラックは利用できません (コード {k})"),
    (8003, "Wiedergabe fehlgeschlagen – Gerät „Küche“ nicht erreichbar"),
]

_COUNTRIES = {
    "US": 20, "BR": 8, "GB": 6, "DE": 6, "MX": 5, "FR": 4, "IN": 4, "ID": 3.5,
    "ES": 3, "CA": 3, "JP": 3, "PH": 2.5, "IT": 2.5, "AU": 2.3, "NL": 2, "PL": 2,
    "SE": 1.8, "TR": 1.7, "AR": 1.6, "CO": 1.5, "KR": 1.4, "CL": 1.2, "TH": 1,
    "VN": 1, "NG": 1, "ZA": 1, "NO": 0.9, "BE": 0.9, "DK": 0.8, "PT": 0.8,
    "CH": 0.8, "TW": 0.8, "FI": 0.7, "AT": 0.7, "MY": 0.7, "SA": 0.7, "IE": 0.6,
    "EG": 0.6, "AE": 0.6, "NZ": 0.5, "HK": 0.5, "IL": 0.5, "GR": 0.5, "UA": 0.5,
}
_PLATFORMS = {"android": 46, "ios": 32, "web": 10, "desktop": 8, "tv": 4}


@lru_cache(maxsize=1)
def _pools() -> dict[str, _Pool]:
    rng = np.random.default_rng(np.random.SeedSequence([_MAGIC, 0xB001]))
    P: dict[str, _Pool] = {}
    P["event_type"] = _Pool(_TYPE_NAMES)
    P["country"] = _Pool(_COUNTRIES.keys(), _COUNTRIES.values())
    P["platform"] = _Pool(_PLATFORMS.keys(), _PLATFORMS.values())
    versions = []
    for minor in range(12, 4, -1):
        for patch in (40, 28, 16, 12, 6, 2):
            versions.append(f"8.{minor}.{patch}")
    P["app_version"] = _Pool(versions, [1.0 / (r ** 1.2) for r in range(1, len(versions) + 1)])

    P["track_id"] = _Pool(_b62_strings(rng, 100_000, 22, "spotify:track:"))
    ctx = []
    for prefix, share in (("spotify:playlist:", 0.55), ("spotify:album:", 0.25),
                          ("spotify:artist:", 0.15), ("spotify:show:", 0.05)):
        ctx += _b62_strings(rng, int(40_000 * share), 22, prefix)
    order = rng.permutation(len(ctx))
    P["context_uri"] = _Pool([ctx[i] for i in order])
    P["playlist_id"] = _Pool(_b62_strings(rng, 30_000, 22, "spotify:playlist:"))
    targets = _b62_strings(rng, 15_000, 22, "spotify:artist:")
    users = ["spotify:user:" + "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz0123456789_."), size=rng.integers(6, 20)))
             for _ in range(5_000)]
    targets += users
    P["target_id"] = _Pool([targets[i] for i in rng.permutation(len(targets))])
    hexes = _rows_to_str(_hex_matrix(rng.integers(0, 256, size=(3_000, 12), dtype=np.uint8)))
    P["ad_id"] = _Pool(["ad-" + h for h in hexes])
    domains = ["shop.example.com", "www.brand.example", "tickets.example.org", "app.example.net"]
    P["ad_url"] = _Pool([
        f"https://{domains[i % 4]}/c?cid={h[:10]}&utm_source=spotify&utm_medium=audio"
        for i, h in enumerate(hexes[:1_000])
    ])

    # search queries: artists, phrases, combinations, typing prefixes, specials
    queries = []
    for _ in range(6_000):
        r = rng.random()
        if r < 0.35:
            q = _ARTISTS[rng.integers(len(_ARTISTS))]
        elif r < 0.6:
            q = _PHRASES[rng.integers(len(_PHRASES))]
        elif r < 0.8:
            q = _ARTISTS[rng.integers(len(_ARTISTS))] + " " + _PHRASES[rng.integers(len(_PHRASES))]
        elif r < 0.97:
            full = (_ARTISTS + _PHRASES)[rng.integers(len(_ARTISTS) + len(_PHRASES))]
            q = full[: max(1, int(rng.integers(1, len(full) + 1)))]
        else:
            q = _SPECIAL_QUERIES[rng.integers(len(_SPECIAL_QUERIES))]
        if rng.random() < 0.3:
            q = q.lower()
        queries.append(q)
    P["query"] = _Pool(queries)

    codes, messages = [], []
    for _ in range(600):
        code, tmpl = _ERROR_TEMPLATES[rng.integers(len(_ERROR_TEMPLATES))]
        h = _rows_to_str(_hex_matrix(rng.integers(0, 256, size=(1, 8), dtype=np.uint8)))[0]
        b62 = _b62_strings(rng, 1, 22, "")[0]
        messages.append(tmpl.format(ms=int(rng.integers(1_000, 60_000)), n=int(rng.integers(0, 10**7)),
                                    k=int(rng.integers(1, 400)), hex=h, b62=b62))
        codes.append(code)
    P["message"] = _Pool(messages)
    P["_message_code"] = np.array(codes, dtype=np.int64)  # type: ignore[assignment]

    def cat(name, mapping):
        P[name] = _Pool(mapping.keys(), mapping.values())

    cat("source.play", {"playlist": 40, "album": 18, "artist": 10, "search": 8, "radio": 7,
                        "liked_songs": 8, "daily_mix": 5, "autoplay": 4})
    cat("source.search", {"search_bar": 80, "voice": 8, "recent_searches": 12})
    cat("source.ui", {"now_playing": 40, "context_menu": 30, "track_row": 20, "swipe": 10})
    cat("source.volume", {"hardware_button": 60, "slider": 30, "remote": 7, "voice": 3})
    cat("source.error", {"playback": 55, "network": 25, "auth": 10, "storage": 10})
    cat("source.follow", {"artist_page": 50, "now_playing": 20, "search": 20, "profile": 10})
    cat("reason.skip", {"fwdbtn": 70, "backbtn": 12, "clickrow": 8, "remote": 5, "trackerror": 2, "endplay": 3})
    cat("reason.pause", {"user": 80, "interruption": 8, "headphones_unplugged": 7, "phone_call": 5})
    cat("reason.logout", {"user": 60, "session_expired": 30, "forced": 7, "account_deleted": 3})
    cat("reason.playlist", {"user": 85, "duplicate": 10, "unavailable": 5})
    cat("reason.unfollow", {"user": 80, "too_many_notifications": 15, "other": 5})
    cat("method.share", {"copy_link": 35, "whatsapp": 25, "instagram_stories": 20, "messenger": 8,
                         "twitter": 5, "sms": 5, "telegram": 2})
    cat("method.login", {"password": 45, "google": 25, "apple": 15, "facebook": 10, "phone_otp": 5})
    return P


# ---------------------------------------------------------------------------
# Block generation
# ---------------------------------------------------------------------------


def _rng(seed: int, block: int, stream: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([_MAGIC, seed, block, stream])))


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on a uint64 array (wrapping arithmetic)."""
    z = x + _U64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
    return z ^ (z >> _U64(31))


# Column kinds: ("p", pool, idx) pooled strings (null = pool.null),
# ("i"|"f"|"b", values, null_mask) numbers / bools.


def _payload_columns(rng: np.random.Generator, etype: str, m: int, P: dict) -> list:
    """Columns (in EVENT_PAYLOAD_FIELDS order) for ``m`` events of ``etype``."""
    def track():
        return ("p", P["track_id"], P["track_id"].skewed(rng, m, 4.0))

    def ctx():
        return ("p", P["context_uri"], P["context_uri"].skewed(rng, m, 3.0))

    def cat(name):
        return ("p", P[name], P[name].sample(rng, m))

    def ints(a):
        return ("i", np.asarray(a, dtype=np.int64), None)

    def lat(median, sigma=0.8):
        return ("f", np.round(rng.lognormal(math.log(median), sigma, m), 3), None)

    def dur():  # track durations, ~3.5 min
        return np.clip(rng.lognormal(math.log(205_000), 0.3, m), 30_000, 1_200_000).astype(np.int64)

    if etype == "play":
        d = dur()
        full = rng.random(m) < 0.6
        played = np.where(full, d, (d * rng.random(m)).astype(np.int64))
        pos = np.where(rng.random(m) < 0.85, 0, (d * rng.random(m)).astype(np.int64))
        return [track(), ints(played), ints(pos), ("b", rng.random(m) < 0.35, None),
                cat("source.play"), ctx()]
    if etype == "skip":
        played = np.clip(rng.lognormal(math.log(9_000), 1.0, m), 0, 600_000).astype(np.int64)
        return [track(), ints(played), cat("reason.skip"), ctx()]
    if etype == "pause":
        return [track(), ints(dur() * rng.random(m)), cat("reason.pause")]
    if etype == "resume":
        return [track(), ints(dur() * rng.random(m)), lat(40)]
    if etype == "search":
        res = np.where(rng.random(m) < 0.1, 0, rng.integers(1, 51, m))
        return [("p", P["query"], P["query"].skewed(rng, m, 2.0)), ints(res), lat(120),
                cat("source.search")]
    if etype == "seek":
        d = dur()
        return [track(), ints(d * rng.random(m)), ints(d * rng.random(m)), lat(25)]
    if etype in ("queue_add", "like", "unlike"):
        return [track(), cat("source.ui"), ctx()]
    if etype == "volume_change":
        return [("f", np.round(rng.random(m), 2), None), cat("source.volume"), track()]
    if etype == "ad_impression":
        d = np.array([10_000, 15_000, 30_000, 30_000, 60_000], dtype=np.int64)[rng.integers(0, 5, m)]
        played = np.where(rng.random(m) < 0.8, d, (d * rng.random(m)).astype(np.int64))
        return [("p", P["ad_id"], P["ad_id"].skewed(rng, m, 2.0)), ints(d), ints(played), ctx()]
    if etype == "add_to_playlist":
        return [track(), ("p", P["playlist_id"], P["playlist_id"].skewed(rng, m, 2.0)), cat("source.ui")]
    if etype == "shuffle_toggle":
        return [("b", rng.random(m) < 0.5, None), ctx(), cat("source.ui")]
    if etype == "repeat_toggle":
        return [("b", rng.random(m) < 0.5, None), ctx(), track()]
    if etype == "login":
        code = np.array([0, 401, 403, 429, 500, 503], dtype=np.int64)[
            np.searchsorted([0.9, 0.95, 0.97, 0.985, 0.995, 1.0], rng.random(m), side="right").clip(0, 5)]
        return [cat("method.login"), lat(450, 0.6), ints(code)]
    if etype == "logout":
        session = np.clip(rng.lognormal(math.log(25 * 60_000), 1.0, m), 1_000, 86_400_000)
        return [cat("reason.logout"), ints(session), lat(80)]
    if etype == "share":
        return [track(), cat("method.share"), ctx()]
    if etype == "error":
        idx = P["message"].sample(rng, m)
        return [ints(P["_message_code"][idx]), ("p", P["message"], idx), track(), cat("source.error")]
    if etype == "follow":
        return [("p", P["target_id"], P["target_id"].skewed(rng, m, 2.0)), cat("source.follow"), ctx()]
    if etype == "remove_from_playlist":
        return [track(), ("p", P["playlist_id"], P["playlist_id"].skewed(rng, m, 2.0)),
                cat("reason.playlist")]
    if etype == "ad_click":
        return [("p", P["ad_id"], P["ad_id"].skewed(rng, m, 2.0)),
                ("p", P["ad_url"], P["ad_url"].sample(rng, m)),
                ints(rng.integers(1_000, 30_000, m))]
    if etype == "unfollow":
        return [("p", P["target_id"], P["target_id"].skewed(rng, m, 2.0)), cat("source.follow"),
                cat("reason.unfollow")]
    raise AssertionError(etype)  # pragma: no cover


class _Block:
    """Columns of the original (non-duplicate) events of one block."""

    __slots__ = ("event_id", "etype", "user_id", "device_hex", "device_null", "client_ts",
                 "country", "platform", "app_version", "payload_null", "groups")


_TYPE_CUM = np.cumsum(np.array(list(EVENT_TYPES.values())))
_TYPE_CUM[-1] = 1.0


def _gen_block(seed: int, b: int) -> _Block:
    P = _pools()
    rng = _rng(seed, b, _STREAM_EVENTS)
    B = _BLOCK
    blk = _Block()

    # uuid4 text from the seeded RNG
    raw = np.frombuffer(rng.bytes(16 * B), dtype=np.uint8).reshape(B, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hx = _hex_matrix(raw)
    u = np.empty((B, 36), dtype=np.uint8)
    u[:, [8, 13, 18, 23]] = ord("-")
    u[:, 0:8], u[:, 9:13], u[:, 14:18] = hx[:, 0:8], hx[:, 8:12], hx[:, 12:16]
    u[:, 19:23], u[:, 24:36] = hx[:, 16:20], hx[:, 20:32]
    blk.event_id = _rows_to_str(u)

    blk.etype = np.searchsorted(_TYPE_CUM, rng.random(B), side="right").clip(0, len(_TYPE_NAMES) - 1)

    # users: power-law popularity over ranks, scrambled to ids by an odd multiplier
    rank = (_USER_RANKS * rng.random(B) ** 3).astype(np.int64)
    uid = (rank * 0x5851F42D + 0x14057B7F) % _N_USERS + 1
    blk.user_id = uid
    uh = _mix64(uid.astype(_U64))
    blk.country = np.searchsorted(P["country"].cum, (uh >> _U64(11)).astype(np.float64) / 2.0**53,
                                  side="right")
    # each user has 1-3 devices; platform / app version are properties of the device
    slot = np.searchsorted([0.7, 0.9], rng.random(B), side="right").astype(_U64)
    dh = _mix64(uh ^ ((slot + _U64(1)) * _U64(0xD6E8FEB86659FD93)))
    blk.device_hex = dh
    blk.platform = np.searchsorted(P["platform"].cum, (dh >> _U64(11)).astype(np.float64) / 2.0**53,
                                   side="right")
    blk.app_version = np.searchsorted(P["app_version"].cum,
                                      (_mix64(dh) >> _U64(11)).astype(np.float64) / 2.0**53, side="right")
    nulls = rng.random((B, 5))
    blk.device_null = nulls[:, 0] < 0.01
    blk.country[nulls[:, 1] < 0.005] = P["country"].null
    blk.platform[nulls[:, 2] < 0.003] = P["platform"].null
    blk.app_version[nulls[:, 3] < 0.01] = P["app_version"].null
    blk.payload_null = nulls[:, 4] < 0.005

    # client timestamps: steady clock + jitter, some offline (late) events, a few skewed clocks
    gidx = np.arange(b * B, (b + 1) * B, dtype=np.int64)
    ts = _T0_MS + gidx * _MEAN_GAP_MS + np.round(rng.normal(0, 1_500, B)).astype(np.int64)
    r = rng.random(B)
    lag = np.minimum(rng.exponential(3 * 3_600_000, B), 3 * 86_400_000).astype(np.int64)
    ts -= np.where(r < 0.03, lag, 0)
    skew = rng.integers(-2 * 86_400_000, 2 * 86_400_000, B)
    ts += np.where(r > 0.999, skew, 0)
    blk.client_ts = ts

    # payloads, grouped by event type (fixed type order => deterministic RNG use)
    groups = []
    for t, name in enumerate(_TYPE_NAMES):
        rows = np.flatnonzero(blk.etype == t)
        m = len(rows)
        if m == 0:
            continue
        cols = _payload_columns(rng, name, m, P)
        nullm = rng.random((m, len(cols))) < _PAYLOAD_NULL_P
        fixed = []
        for j, col in enumerate(cols):
            if col[0] == "p":
                idx = col[2].copy()
                idx[nullm[:, j]] = col[1].null
                fixed.append(("p", col[1], idx))
            else:
                fixed.append((col[0], col[1], nullm[:, j]))
        groups.append((rows, EVENT_PAYLOAD_FIELDS[name], fixed))
    blk.groups = groups
    return blk


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------

_BOOL_JSON = np.array(["false", "true"], dtype=object)


def _col_values(col) -> list:
    kind = col[0]
    if kind == "p":
        return col[1].raw[col[2]].tolist()
    vals = col[1].tolist()
    for j in np.flatnonzero(col[2]).tolist():
        vals[j] = None
    return vals


def _col_json(col) -> list:
    kind = col[0]
    if kind == "p":
        return col[1].json[col[2]].tolist()
    if kind == "i":
        vals = list(map(str, col[1].tolist()))
    elif kind == "f":
        vals = list(map(repr, col[1].tolist()))
    else:
        vals = _BOOL_JSON[col[1].astype(np.intp)].tolist()
    for j in np.flatnonzero(col[2]).tolist():
        vals[j] = "null"
    return vals


def _device_strings(blk: _Block, quoted: bool) -> list:
    dh = blk.device_hex.astype(">u8").view(np.uint8).reshape(-1, 8)
    hx = _hex_matrix(dh)
    n = hx.shape[0]
    if quoted:
        mat = np.empty((n, 20), dtype=np.uint8)
        mat[:, 0] = mat[:, 19] = ord('"')
        mat[:, 1], mat[:, 2] = ord("d"), ord("-")
        mat[:, 3:19] = hx
        null = "null"
    else:
        mat = np.empty((n, 18), dtype=np.uint8)
        mat[:, 0], mat[:, 1] = ord("d"), ord("-")
        mat[:, 2:18] = hx
        null = None
    out = _rows_to_str(mat)
    for j in np.flatnonzero(blk.device_null).tolist():
        out[j] = null
    return out


def _render_dicts(blk: _Block) -> list[dict]:
    P = _pools()
    B = len(blk.event_id)
    payload: list = [None] * B
    for rows, fields, cols in blk.groups:
        for r, vals in zip(rows.tolist(), zip(*[_col_values(c) for c in cols])):
            payload[r] = dict(zip(fields, vals))
    for j in np.flatnonzero(blk.payload_null).tolist():
        payload[j] = None
    columns = (
        blk.event_id,
        P["event_type"].raw[blk.etype].tolist(),
        blk.user_id.tolist(),
        _device_strings(blk, quoted=False),
        blk.client_ts.tolist(),
        P["country"].raw[blk.country].tolist(),
        P["platform"].raw[blk.platform].tolist(),
        P["app_version"].raw[blk.app_version].tolist(),
        payload,
    )
    k = _TOP_KEYS
    return [
        {k[0]: a, k[1]: b, k[2]: c, k[3]: d, k[4]: e, k[5]: f, k[6]: g, k[7]: h, k[8]: i}
        for a, b, c, d, e, f, g, h, i in zip(*columns)
    ]


def _render_json(blk: _Block) -> list[bytes]:
    P = _pools()
    B = len(blk.event_id)
    payload: list = ["null"] * B
    for rows, fields, cols in blk.groups:
        tmpl = "{" + ",".join('"%s":%%s' % f for f in fields) + "}"
        for r, vals in zip(rows.tolist(), zip(*[_col_json(c) for c in cols])):
            payload[r] = tmpl % vals
    for j in np.flatnonzero(blk.payload_null).tolist():
        payload[j] = "null"
    columns = (
        blk.event_id,
        P["event_type"].json[blk.etype].tolist(),
        list(map(str, blk.user_id.tolist())),
        _device_strings(blk, quoted=True),
        list(map(str, blk.client_ts.tolist())),
        P["country"].json[blk.country].tolist(),
        P["platform"].json[blk.platform].tolist(),
        P["app_version"].json[blk.app_version].tolist(),
        payload,
    )
    tmpl = _TOP_TEMPLATE
    # encode line by line: joining str lines first would widen the whole text
    # to 4 bytes/char as soon as one line holds an emoji
    return [(tmpl % row).encode("utf-8") for row in zip(*columns)]


def _copy_event(d: dict) -> dict:
    c = dict(d)
    if c["payload"] is not None:
        c["payload"] = dict(c["payload"])
    return c


# ---------------------------------------------------------------------------
# Malformed lines
# ---------------------------------------------------------------------------

_NUM_KEYS = ("ms_played", "position_ms", "duration_ms", "results", "user_id")
_FLOAT_KEYS = ("latency_ms", "level")
_STR_KEYS = ("query", "message", "app_version", "device_id", "event_type")
_BAD_UTF8 = (b"\xff", b"\xc3\x28", b"caf\xe9", b"\xed\xa0\x80", b"\xf0\x9f\x98", b"\x80\x80", b"\xc0\xaf")
_SURROGATES = ("\\ud800", "\\udc00", "\\ud83d", "\\udfff")
_CONTROLS = ("\t", "\x01", "\x08", "\x1b", "\x00", "\x1f", "\x0c")
_GARBAGE = ("}", " xyz", ",", '{"event_id":', "\x00", "]", " // retry 2")


def _num_span(s: str, keys) -> tuple[int, int] | None:
    """(start, end) of the first numeric value of one of ``keys`` in JSON text."""
    for key in keys:
        pat = '"%s":' % key
        i = s.find(pat)
        if i >= 0:
            j = i + len(pat)
            k = j
            while k < len(s) and s[k] in "-+.0123456789eE":
                k += 1
            if k > j:
                return j, k
    return None


def _str_start(s: str) -> int:
    """Index just after the opening quote of the first present string value of _STR_KEYS."""
    for key in _STR_KEYS:
        pat = '"%s":"' % key
        i = s.find(pat)
        if i >= 0:
            return i + len(pat)
    raise AssertionError("no string field")  # pragma: no cover (event_type always present)


def _malform(line: bytes, kind: int, aux: float) -> bytes:
    """Return a malformed version of the valid JSON line ``line``.

    The result never contains ``b"\\n"``.
    """
    return _malform_str(line.decode("utf-8"), kind, aux).encode("utf-8", "surrogateescape")


def _malform_str(s: str, kind: int, aux: float) -> str:
    # invalid UTF-8 bytes are carried as surrogateescape code points
    name = MALFORMED_KINDS[kind]
    if name == "truncated":
        b = s.encode("utf-8")
        cut = 1 + int(aux * (len(b) - 1))
        return b[:cut].decode("utf-8", "surrogateescape")
    if name == "number_as_string":
        j, k = _num_span(s, _NUM_KEYS)
        return s[:j] + '"' + s[j:k] + '"' + s[k:]
    if name == "invalid_utf8":
        i = _str_start(s)
        bad = _BAD_UTF8[int(aux * len(_BAD_UTF8))].decode("utf-8", "surrogateescape")
        return s[:i] + bad + s[i:]
    if name == "trailing_garbage":
        return s + _GARBAGE[int(aux * len(_GARBAGE))]
    if name == "missing_event_id":
        assert s[49:51] == '",'
        return "{" + s[51:]
    if name == "bare_array":
        return "[" + s + "]"
    if name == "nan_literal":
        span = _num_span(s, _FLOAT_KEYS) or _num_span(s, ("client_ts",))
        j, k = span
        return s[:j] + "NaN" + s[k:]
    if name == "lone_surrogate":
        i = _str_start(s)
        return s[:i] + _SURROGATES[int(aux * len(_SURROGATES))] + s[i:]
    if name == "control_char":
        i = _str_start(s)
        return s[:i] + _CONTROLS[int(aux * len(_CONTROLS))] + s[i:]
    if name == "leading_zero":
        j, _ = _num_span(s, _NUM_KEYS)
        return s[:j] + "0" + s[j:]
    if name == "trailing_comma":
        return s[:-1] + ",}"
    raise AssertionError(name)  # pragma: no cover


# ---------------------------------------------------------------------------
# The stream: originals + duplicates + malformed lines, block by block
# ---------------------------------------------------------------------------


class _Stream:
    def __init__(self, seed: int, dup_rate: float, dup_window: int,
                 malformed_rate: float, as_json: bool):
        self.seed = seed
        self.dup_rate = dup_rate
        self.dup_window = dup_window
        self.malformed_rate = malformed_rate
        self.as_json = as_json
        self._orig: dict[int, list] = {}
        self._dups: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        # history needed for duplicates: the window plus the current block
        self._keep = -(-dup_window // _BLOCK) + 1

    def _originals(self, b: int) -> list:
        o = self._orig.get(b)
        if o is None:
            blk = _gen_block(self.seed, b)
            o = _render_json(blk) if self.as_json else _render_dicts(blk)
            self._orig[b] = o
        return o

    def _dup_info(self, b: int) -> tuple[np.ndarray, np.ndarray]:
        info = self._dups.get(b)
        if info is None:
            rng = _rng(self.seed, b, _STREAM_DUPS)
            u = rng.random(_BLOCK)
            v = rng.random(_BLOCK)
            gidx = np.arange(b * _BLOCK, (b + 1) * _BLOCK, dtype=np.int64)
            span = np.minimum(gidx, self.dup_window)
            is_dup = (u < self.dup_rate) & (gidx > 0)
            back = 1 + np.floor(v * span).astype(np.int64)
            info = (is_dup, back)
            self._dups[b] = info
        return info

    def _gather(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        blocks = idx // _BLOCK
        off = idx - blocks * _BLOCK
        is_dup = np.empty(len(idx), dtype=bool)
        back = np.empty(len(idx), dtype=np.int64)
        for ub in np.unique(blocks).tolist():
            sel = blocks == ub
            d, k = self._dup_info(ub)
            is_dup[sel] = d[off[sel]]
            back[sel] = k[off[sel]]
        return is_dup, back

    def _evict(self, b: int) -> None:
        lo = b - self._keep
        for cache in (self._orig, self._dups):
            for key in [k for k in cache if k < lo]:
                del cache[key]

    def block(self, b: int, lo: int, hi: int) -> list:
        """Final events (dicts or JSON lines) for offsets ``[lo, hi)`` of block ``b``."""
        out = self._originals(b)[lo:hi]
        base = b * _BLOCK
        if self.dup_rate > 0:
            is_dup, back = self._dup_info(b)
            pos = np.flatnonzero(is_dup[lo:hi]) + lo
            if len(pos):
                src = base + pos - back[pos]
                while True:  # a re-send of a re-send is a re-send of the root event
                    d, k = self._gather(src)
                    if not d.any():
                        break
                    src = np.where(d, src - k, src)
                for p, r in zip(pos.tolist(), src.tolist()):
                    ev = self._originals(r // _BLOCK)[r % _BLOCK]
                    out[p - lo] = ev if self.as_json else _copy_event(ev)
        if self.as_json and self.malformed_rate > 0:
            rng = _rng(self.seed, b, _STREAM_MALFORMED)
            u = rng.random(_BLOCK)
            kind = rng.integers(0, len(MALFORMED_KINDS), _BLOCK)
            aux = rng.random(_BLOCK)
            for p in (np.flatnonzero(u[lo:hi] < self.malformed_rate) + lo).tolist():
                out[p - lo] = _malform(out[p - lo], int(kind[p]), float(aux[p]))
        self._evict(b)
        return out


def _check_args(n, seed, dup_rate, dup_window, malformed_rate, start) -> None:
    for name, v in (("n", n), ("seed", seed), ("dup_window", dup_window), ("start", start)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
            raise TypeError(f"{name} must be an int, got {type(v).__name__}")
    if n < 0 or seed < 0 or start < 0:
        raise ValueError("n, seed and start must be >= 0")
    if dup_window < 1:
        raise ValueError("dup_window must be >= 1")
    if not 0.0 <= dup_rate < 1.0:
        raise ValueError("dup_rate must be in [0, 1)")
    if not 0.0 <= malformed_rate <= 1.0:
        raise ValueError("malformed_rate must be in [0, 1]")


def _iter_blocks(stream: _Stream, start: int, n: int) -> Iterator[list]:
    i, end = start, start + n
    while i < end:
        b = i // _BLOCK
        lo = i - b * _BLOCK
        hi = min(_BLOCK, end - b * _BLOCK)
        yield stream.block(b, lo, hi)
        i = b * _BLOCK + hi


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def event_schema():
    """Arrow schema of the generated events.

    Returns
    -------
    pyarrow.Schema
        ``event_id`` (uuid4 text), ``event_type``, ``user_id`` and
        ``client_ts`` (epoch milliseconds) are non-nullable; ``device_id``,
        ``country``, ``platform``, ``app_version`` and ``payload`` are
        nullable.  ``payload`` is a struct whose fields are the union of the
        fields used by all event types (:data:`PAYLOAD_FIELD_TYPES`); every
        payload field is nullable.

    Examples
    --------
    >>> schema = event_schema()
    >>> schema.names[:4]
    ['event_id', 'event_type', 'user_id', 'device_id']
    >>> str(schema.field("payload").type.field("ms_played").type)
    'int64'
    >>> schema.field("event_id").nullable, schema.field("payload").nullable
    (False, True)
    """
    import pyarrow as pa

    factories = {"string": pa.string, "int64": pa.int64, "int32": pa.int32,
                 "float64": pa.float64, "bool": pa.bool_}
    payload = pa.struct([pa.field(name, factories[t](), nullable=True)
                         for name, t in PAYLOAD_FIELD_TYPES.items()])
    return pa.schema([
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("event_type", pa.string(), nullable=False),
        pa.field("user_id", pa.int64(), nullable=False),
        pa.field("device_id", pa.string()),
        pa.field("client_ts", pa.int64(), nullable=False),
        pa.field("country", pa.string()),
        pa.field("platform", pa.string()),
        pa.field("app_version", pa.string()),
        pa.field("payload", payload),
    ])


def generate_dicts(n: int, seed: int = 0, dup_rate: float = 0.0, dup_window: int = 1000,
                   start: int = 0) -> list[dict]:
    """Generate ``n`` events as Python dicts.

    Parameters
    ----------
    n : int
        Number of events.
    seed : int, default 0
        Non-negative seed; the output is a deterministic function of all
        arguments.
    dup_rate : float, default 0.0
        Fraction of events, in ``[0, 1)``, that are client re-sends: an exact
        copy (same ``event_id``, same content) of one of the previous
        ``dup_window`` events of the stream.
    dup_window : int, default 1000
        How far back (in events) a re-send may reach.  About ``dup_window``
        events of history are kept in memory.
    start : int, default 0
        Index of the first event in the seed's stream: the result is events
        ``start .. start + n - 1``, so ``generate_dicts(a + b)[a:] ==
        generate_dicts(b, start=a)``.

    Returns
    -------
    list of dict
        Keys are those of :func:`event_schema`, in that order.  ``payload``
        holds only the fields its event type uses
        (:data:`EVENT_PAYLOAD_FIELDS`); a field that is null at random (~5 %)
        is present with value ``None``.  Every dict is a distinct object, even
        for duplicates.

    Examples
    --------
    >>> events = generate_dicts(3, seed=42)
    >>> [sorted(e) == sorted(event_schema().names) for e in events]
    [True, True, True]
    >>> len(events[0]["event_id"]), events[0]["event_id"][14]
    (36, '4')
    >>> generate_dicts(3, seed=42) == events
    True
    >>> generate_dicts(5, seed=42)[3:] == generate_dicts(2, seed=42, start=3)
    True
    """
    _check_args(n, seed, dup_rate, dup_window, 0.0, start)
    stream = _Stream(int(seed), float(dup_rate), int(dup_window), 0.0, as_json=False)
    out: list[dict] = []
    for part in _iter_blocks(stream, int(start), int(n)):
        out.extend(part)
    return out


def iter_ndjson_chunks(n: int, seed: int = 0, chunk_events: int = 100_000,
                       **kw: Any) -> Iterator[bytes]:
    """Yield the NDJSON of ``n`` events as ``bytes`` chunks, with bounded memory.

    Parameters
    ----------
    n : int
        Number of events (lines).
    seed : int, default 0
        Non-negative seed.
    chunk_events : int, default 100_000
        Lines per chunk (the last chunk may be shorter).  It does not affect
        the content: the concatenation of the chunks equals
        ``generate_ndjson(n, seed, **kw)``.
    **kw
        ``dup_rate``, ``dup_window``, ``malformed_rate`` and ``start``, as in
        :func:`generate_ndjson`.

    Yields
    ------
    bytes
        ``chunk_events`` complete lines, each ending in ``b"\\n"``.

    Examples
    --------
    >>> chunks = list(iter_ndjson_chunks(10, seed=1, chunk_events=4))
    >>> [c.count(b"\\n") for c in chunks]
    [4, 4, 2]
    >>> b"".join(chunks) == generate_ndjson(10, seed=1)
    True
    """
    dup_rate = float(kw.pop("dup_rate", 0.0))
    dup_window = kw.pop("dup_window", 1000)
    malformed_rate = float(kw.pop("malformed_rate", 0.0))
    start = kw.pop("start", 0)
    if kw:
        raise TypeError(f"unexpected keyword arguments: {sorted(kw)}")
    _check_args(n, seed, dup_rate, dup_window, malformed_rate, start)
    if not isinstance(chunk_events, (int, np.integer)) or chunk_events < 1:
        raise ValueError("chunk_events must be an int >= 1")
    stream = _Stream(int(seed), dup_rate, int(dup_window), malformed_rate, as_json=True)
    pending: list[bytes] = []
    for part in _iter_blocks(stream, int(start), int(n)):
        pending.extend(part)
        while len(pending) >= chunk_events:
            head, pending = pending[:chunk_events], pending[chunk_events:]
            head.append(b"")
            yield b"\n".join(head)
    if pending:
        pending.append(b"")
        yield b"\n".join(pending)


def generate_ndjson(n: int, seed: int = 0, dup_rate: float = 0.0, dup_window: int = 1000,
                    malformed_rate: float = 0.0, start: int = 0) -> bytes:
    """Generate ``n`` events as NDJSON bytes.

    Line ``i`` is ``json.dumps(d, separators=(",", ":"), ensure_ascii=False)``
    (UTF-8 encoded) of ``generate_dicts(n, seed, dup_rate, dup_window,
    start)[i]``, followed by ``b"\\n"`` -- except for malformed lines.

    Parameters
    ----------
    n, seed, dup_rate, dup_window, start
        As in :func:`generate_dicts`.
    malformed_rate : float, default 0.0
        Fraction of lines replaced by a malformed version of the event, drawn
        from :data:`MALFORMED_KINDS` (truncated line, number as string, invalid
        UTF-8, trailing garbage, missing ``event_id``, bare array, ``NaN``
        literal, lone surrogate escape, raw control character, leading-zero
        number, trailing comma).  A malformed line never contains a newline,
        so the output always has exactly ``n`` lines.  The other lines are
        unaffected by ``malformed_rate``.

    Returns
    -------
    bytes
        ``n`` newline-terminated lines.

    Examples
    --------
    >>> import json
    >>> data = generate_ndjson(3, seed=7)
    >>> lines = data.splitlines()
    >>> len(lines), data.endswith(b"\\n")
    (3, True)
    >>> [json.loads(x) for x in lines] == generate_dicts(3, seed=7)
    True
    >>> bad = generate_ndjson(1000, seed=7, malformed_rate=0.1).split(b"\\n")[:-1]
    >>> good = generate_ndjson(1000, seed=7).split(b"\\n")[:-1]
    >>> 50 < sum(x != y for x, y in zip(bad, good)) < 150
    True
    """
    return b"".join(iter_ndjson_chunks(n, seed, chunk_events=max(1, min(int(n), 1 << 20)),
                                       dup_rate=dup_rate, dup_window=dup_window,
                                       malformed_rate=malformed_rate, start=start))


def write_ndjson(path: str | os.PathLike, n: int, seed: int = 0, **kw: Any) -> int:
    """Stream ``n`` generated events to an NDJSON file, compressed by suffix.

    Parameters
    ----------
    path : str or os.PathLike
        Destination.  The (case-insensitive) suffix selects the format:
        ``.gz`` (gzip), ``.zst`` (requires the ``zstandard`` package),
        ``.lz4`` (requires the ``lz4`` package, frame format); anything else
        is written uncompressed.
    n : int
        Number of events (lines).
    seed : int, default 0
        Non-negative seed.
    **kw
        ``dup_rate``, ``dup_window``, ``malformed_rate``, ``start`` and
        ``chunk_events`` (see :func:`iter_ndjson_chunks`).  The decompressed
        file content equals ``generate_ndjson(n, seed, ...)``.

    Returns
    -------
    int
        Number of lines written (``n``).

    Raises
    ------
    ImportError
        For ``.zst`` / ``.lz4`` when the compression package is missing.

    Examples
    --------
    >>> import gzip, os, tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = os.path.join(d, "events.ndjson.gz")
    ...     count = write_ndjson(p, 100, seed=3)
    ...     same = gzip.open(p).read() == generate_ndjson(100, seed=3)
    >>> count, same
    (100, True)
    """
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    chunks = iter_ndjson_chunks(n, seed, **kw)
    lines = 0
    if suffix == ".gz":
        with gzip.open(path, "wb", compresslevel=6) as f:
            for c in chunks:
                f.write(c)
                lines += c.count(b"\n")
    elif suffix == ".zst":
        try:
            import zstandard
        except ImportError as e:
            raise ImportError(
                "writing .zst files requires the 'zstandard' package: pip install zstandard"
            ) from e
        with open(path, "wb") as raw:
            with zstandard.ZstdCompressor(level=3).stream_writer(raw, closefd=False) as f:
                for c in chunks:
                    f.write(c)
                    lines += c.count(b"\n")
    elif suffix == ".lz4":
        try:
            import lz4.frame
        except ImportError as e:
            raise ImportError(
                "writing .lz4 files requires the 'lz4' package: pip install lz4"
            ) from e
        with lz4.frame.open(path, "wb") as f:
            for c in chunks:
                f.write(c)
                lines += c.count(b"\n")
    else:
        with open(path, "wb") as f:
            for c in chunks:
                f.write(c)
                lines += c.count(b"\n")
    return lines
