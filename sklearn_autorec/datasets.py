"""Rating datasets: MovieLens loaders, a generic ratings-file reader and a generator.

Every function returns a :class:`sklearn.utils.Bunch` with the same fields, so a
real and a synthetic dataset can be swapped in any script:

``ratings``
    :class:`scipy.sparse.csr_matrix` of float64 and shape ``(n_users, n_items)``:
    row ``r`` holds the ratings of user ``user_ids[r]``, column ``c`` those of
    item ``item_ids[c]``. Every stored entry is a rating, whatever its value.
``X``, ``y``
    The same ratings as ``(user_id, item_id)`` pairs of raw ids (int64, shape
    ``(n_ratings, 2)``) and float64 ratings, in file order: the input form that
    scikit-learn's model selection splits by rating.
``user_ids``, ``item_ids``
    Sorted unique raw ids (int64).
``timestamps``
    int64 array of shape ``(n_ratings,)`` in the order of ``X``, or None when the
    source has none.
``timestamp_matrix``
    The same times as a CSR int64 matrix with exactly the entries of ``ratings``
    (or None), the form that
    :func:`~sklearn_autorec.model_selection.leave_one_out_split` takes.
``DESCR``
    A short description: what the data is, its counts, rating scale, licence and
    the file it was read from.

Only ml-latest-small ships with the package (its licence allows redistribution
with its README). ML-100K, ML-1M, ML-10M and ML-20M are research-only data that may
not be redistributed: they are read from a path you give, from a cache folder, or
downloaded once from GroupLens into that cache.
"""

import gzip
import hashlib
import http.client
import io
import os
import shutil
import warnings
import zipfile
from pathlib import Path
from urllib.request import urlopen

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import get_data_home
from sklearn.utils import Bunch, check_random_state

from ._data import sort_unique

__all__ = ["load_movielens", "load_ratings_file", "make_ratings"]

_BASE_URL = "https://files.grouplens.org/datasets/movielens/"

_RESEARCH_ONLY = (
    "Research use only; it may not be redistributed (see the README in its archive, "
    "https://grouplens.org/datasets/movielens/). Cite F. M. Harper and J. A. Konstan, "
    "The MovieLens Datasets: History and Context, ACM TiiS 5(4), 2015."
)

# For each name: the archive, the folder inside it, the ratings files to look for
# (in order of preference), the SHA-256 of the official archive, and its licence.
# The checksums are those recorded for the same URLs in TensorFlow Datasets'
# ``url_checksums/movielens.txt``.  A checksum of None means "unknown": the archive
# is then used without verification (set an entry to None to skip verification).
_DATASETS = {
    "ml-100k": {
        "title": "MovieLens 100K",
        "archive": "ml-100k.zip",
        "folder": "ml-100k",
        "files": ("u.data",),
        "sha256": "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
        "licence": _RESEARCH_ONLY,
    },
    "ml-1m": {
        "title": "MovieLens 1M",
        "archive": "ml-1m.zip",
        "folder": "ml-1m",
        "files": ("ratings.dat", "ratings.csv", "ratings.csv.gz"),
        "sha256": "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
        "licence": _RESEARCH_ONLY,
    },
    "ml-10m": {
        "title": "MovieLens 10M",
        "archive": "ml-10m.zip",
        "folder": "ml-10M100K",
        "files": ("ratings.dat", "ratings.csv", "ratings.csv.gz"),
        # No published SHA-256 known for this archive: verification is skipped.
        "sha256": None,
        "licence": _RESEARCH_ONLY,
    },
    "ml-20m": {
        "title": "MovieLens 20M",
        "archive": "ml-20m.zip",
        "folder": "ml-20m",
        "files": ("ratings.csv", "ratings.csv.gz"),
        "sha256": "96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
        "licence": _RESEARCH_ONLY,
    },
    "ml-latest-small": {
        "title": "MovieLens latest-small (September 2018)",
        "archive": "ml-latest-small.zip",
        "folder": "ml-latest-small",
        "files": ("ratings.csv", "ratings.csv.gz"),
        "sha256": "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
        "licence": (
            "Non-commercial research use; it may be redistributed, including "
            "transformations, under the same licence conditions, with its README "
            "(shipped beside the data in sklearn_autorec/data/ml-latest-small/). Cite "
            "F. M. Harper and J. A. Konstan, The MovieLens Datasets: History and "
            "Context, ACM TiiS 5(4), 2015."
        ),
    },
}

_SHIPPED = Path(__file__).resolve().parent / "data" / "ml-latest-small" / "ratings.csv.gz"


# --------------------------------------------------------------------------- readers


def _read_bytes(path):
    """Return the content of ``path``, gunzipped when it is gzip-compressed."""
    with open(path, "rb") as f:
        head = f.read(2)
    opener = gzip.open if head == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        return f.read()


def _sniff(raw, path, first):
    """Return ``(separator, has_header, n_columns)`` from the first line of ``raw``.

    ``raw`` starts with its first non-blank line, line number ``first`` of the file.
    """
    if not raw:
        raise ValueError(f"{path} holds no ratings: the file is empty.")
    text = raw.split(b"\n", 1)[0].strip().decode("utf-8", errors="replace")
    if "::" in text:
        sep = "::"
    elif "\t" in text:
        sep = "\t"
    elif "," in text:
        sep = ","
    else:
        raise ValueError(
            f"{path}, line {first}: cannot tell the column separator of {text!r}. Ratings "
            "files must hold user, item, rating[, timestamp] separated by tabs (u.data), "
            "'::' (ratings.dat) or commas (csv)."
        )
    fields = [f.strip() for f in text.split(sep)]
    try:
        float(fields[0])
        has_header = False
    except ValueError:
        has_header = True
    if len(fields) not in (3, 4):
        where = "header" if has_header else f"line {first}"
        raise ValueError(
            f"{path}, {where}: expected 3 or 4 columns (user, item, rating[, timestamp]) "
            f"separated by {sep!r}; found {len(fields)}: {text!r}."
        )
    return sep, has_header, len(fields)


def _find_bad_line(raw, path, sep, n_cols, first):
    """Scan ``raw`` line by line and describe the first malformed line, or None.

    ``raw`` starts with its first non-blank line, line number ``first`` of the file.
    """
    lines = raw.decode("utf-8", errors="replace").splitlines()
    for number, line in enumerate(lines[1:], first + 1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(sep)]
        if len(fields) != n_cols:
            return (
                f"{path}, line {number}: expected {n_cols} columns separated by {sep!r} "
                f"like the first line; found {len(fields)}: {line!r}."
            )
        for pos, (field, kind) in enumerate(
            zip(fields, ("user id", "item id", "rating", "timestamp"))
        ):
            try:
                value = float(field) if kind == "rating" else int(field)
            except ValueError:
                need = "a number" if kind == "rating" else "an integer"
                return (
                    f"{path}, line {number}, column {pos + 1}: the {kind} must be "
                    f"{need}; got {field!r}."
                )
            if kind == "rating" and not np.isfinite(value):
                return (
                    f"{path}, line {number}, column {pos + 1}: the rating must be "
                    f"finite; got {field!r}."
                )
    return None


def _parse(raw, path):
    """Parse the bytes of a ratings file into (users, items, ratings, timestamps)."""
    # Leading blank lines would shift numpy's header skipping: drop them, and
    # count them to report true line numbers.
    stripped = raw.lstrip()
    first = raw[: len(raw) - len(stripped)].count(b"\n") + 1
    raw = stripped
    sep, has_header, n_cols = _sniff(raw, path, first)
    # numpy's reader takes one-character separators only.
    text = raw.replace(b"::", b"\t") if sep == "::" else raw
    sep_char = "\t" if sep == "::" else sep
    dtype = [("u", np.int64), ("i", np.int64), ("r", np.float64), ("t", np.int64)]
    try:
        with warnings.catch_warnings():
            # A header-only file is reported below with the file's name.
            warnings.filterwarnings("ignore", "loadtxt: input contained no data")
            table = np.loadtxt(
                io.BytesIO(text),
                delimiter=sep_char,
                skiprows=int(has_header),
                dtype=dtype[:n_cols],
                comments=None,
                ndmin=1,
                encoding="utf-8",
            )
        ok = bool(np.all(np.isfinite(table["r"])))
    except ValueError:
        ok = False
    if not ok:
        # Rare path: find the exact line to report (numpy's row numbers skip blanks).
        message = _find_bad_line(raw, path, sep, n_cols, first)
        raise ValueError(message or f"{path}: malformed ratings file.")
    if len(table) == 0:
        raise ValueError(f"{path} holds no ratings: only a header was found.")
    timestamps = table["t"].copy() if n_cols == 4 else None
    return table["u"].copy(), table["i"].copy(), table["r"].copy(), timestamps


def _build_bunch(users, items, ratings, timestamps):
    """Encode ids, refuse duplicate pairs and assemble the common Bunch."""
    user_ids, rows = np.unique(users, return_inverse=True)
    item_ids, cols = np.unique(items, return_inverse=True)
    rows = rows.astype(np.int64).ravel()
    cols = cols.astype(np.int64).ravel()
    keys = rows * len(item_ids) + cols
    order = np.argsort(keys, kind="stable")
    dup = np.flatnonzero(keys[order][1:] == keys[order][:-1])
    if len(dup):
        first, second = sorted(order[dup[0] : dup[0] + 2])
        raise ValueError(
            f"The (user, item) pair ({users[first]}, {items[first]}) is rated more than "
            f"once (ratings number {first} and {second}, counting from 0). Each pair "
            "must be rated at most once: drop or average the duplicates first."
        )
    matrix = sp.csr_matrix(
        (ratings.astype(np.float64), (rows, cols)), shape=(len(user_ids), len(item_ids))
    )
    matrix.sort_indices()
    times = None
    if timestamps is not None:
        times = sp.csr_matrix((np.asarray(timestamps, dtype=np.int64), (rows, cols)),
                              shape=matrix.shape)
        times.sort_indices()
    return Bunch(
        ratings=matrix,
        X=np.column_stack([users, items]).astype(np.int64),
        y=ratings.astype(np.float64),
        user_ids=user_ids.astype(np.int64),
        item_ids=item_ids.astype(np.int64),
        timestamps=timestamps,
        timestamp_matrix=times,
        DESCR="",
    )


def _describe(title, bunch, source, licence, extra=""):
    y = bunch.y
    values = np.unique(y)
    if np.all(values == np.round(values)):
        scale = f"{y.min():g}..{y.max():g} in whole steps"
    elif np.all(values * 2 == np.round(values * 2)):
        scale = f"{y.min():g}..{y.max():g} in half steps"
    else:
        scale = f"{y.min():g}..{y.max():g}"
    n_users, n_items = bunch.ratings.shape
    density = bunch.ratings.nnz / max(n_users * n_items, 1)
    lines = [
        title,
        "=" * len(title),
        "",
        f"{len(y):,} ratings by {n_users:,} users of {n_items:,} items "
        f"(density {density:.2%}); ratings {scale}; "
        + ("with timestamps." if bunch.timestamps is not None else "no timestamps."),
    ]
    if extra:
        lines += ["", extra]
    lines += ["", f"Licence: {licence}", "", f"Source: {source}", ""]
    return "\n".join(lines)


def load_ratings_file(path):
    """Load ratings from one file of any of the supported formats.

    The format is detected from the first line: tab-separated ``u.data``
    (MovieLens 100K), ``::``-separated ``ratings.dat`` (MovieLens 1M/10M), or a
    comma-separated file. Every line holds ``user, item, rating`` and optionally a
    fourth column, the timestamp; a header line (such as
    ``userId,movieId,rating,timestamp`` or ``user,item,rating``) is recognised and
    skipped. Gzip-compressed files (``.gz``) are read transparently. User and item
    ids must be integers, ratings numbers.

    Parameters
    ----------
    path : str or path-like
        The ratings file.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the fields

        ratings : scipy.sparse.csr_matrix of shape (n_users, n_items), float64
            Row ``r`` holds the ratings of user ``user_ids[r]``, column ``c``
            those of item ``item_ids[c]``.
        X : ndarray of shape (n_ratings, 2), int64
            Raw ``(user_id, item_id)`` pairs in file order.
        y : ndarray of shape (n_ratings,), float64
            The ratings, in file order.
        user_ids, item_ids : ndarray of int64
            Sorted unique raw ids.
        timestamps : ndarray of shape (n_ratings,), int64, or None
            None when the file has no timestamp column.
        timestamp_matrix : CSR int64 of shape (n_users, n_items), or None
            The timestamps at the entries of ``ratings`` (the form
            :func:`~sklearn_autorec.model_selection.leave_one_out_split` takes).
        DESCR : str
            Counts, rating scale and source file.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is malformed (the message names the file and line), or rates
        one (user, item) pair more than once.

    See Also
    --------
    load_movielens : Load a MovieLens dataset by name.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn_autorec.datasets import load_ratings_file
    >>> path = os.path.join(tempfile.mkdtemp(), "ratings.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write("user,item,rating\\n1,10,4\\n1,20,3.5\\n2,10,5\\n")
    >>> data = load_ratings_file(path)
    >>> data.ratings.shape
    (2, 2)
    >>> data.X.tolist(), data.y.tolist()
    ([[1, 10], [1, 20], [2, 10]], [4.0, 3.5, 5.0])
    >>> print(data.timestamps)
    None
    """
    path = Path(os.fspath(path))
    if not path.is_file():
        raise FileNotFoundError(
            f"No ratings file at {path}: pass the path of an existing file "
            "(u.data, ratings.dat, ratings.csv or ratings.csv.gz)."
        )
    users, items, ratings, timestamps = _parse(_read_bytes(path), path)
    bunch = _build_bunch(users, items, ratings, timestamps)
    bunch.DESCR = _describe(
        f"Ratings from {path.name}",
        bunch,
        str(path),
        "unknown: see where the file came from.",
    )
    return bunch


# --------------------------------------------------------------------------- MovieLens


def _find_in_folder(folder, spec):
    """The ratings file of ``spec`` in ``folder`` or its extracted sub-folder."""
    folder = Path(folder)
    for base in (folder, folder / spec["folder"]):
        for name in spec["files"]:
            candidate = base / name
            if candidate.is_file():
                return candidate
    return None


def _fetch(url, destination):
    """Download ``url`` to the file ``destination`` (tests replace this function)."""
    partial = Path(str(destination) + ".part")
    with urlopen(url, timeout=60) as response, open(partial, "wb") as out:
        shutil.copyfileobj(response, out, length=1 << 20)
    os.replace(partial, destination)


class _ChecksumError(OSError):
    """A downloaded archive does not have the expected SHA-256."""


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(name, spec, folder):
    """Download the archive of ``name`` into ``folder``, verify it and extract it."""
    url = _BASE_URL + spec["archive"]
    archive = folder / spec["archive"]
    folder.mkdir(parents=True, exist_ok=True)
    _fetch(url, archive)
    try:
        expected = spec["sha256"]
        if expected is not None:
            actual = _sha256(archive)
            if actual != expected:
                raise _ChecksumError(
                    f"The download of {url} is corrupt or has changed: its SHA-256 is "
                    f"{actual}, expected {expected}. Delete {folder} and try again, or "
                    "download and extract the archive yourself and pass path=."
                )
        with zipfile.ZipFile(archive) as zf:
            # Extract the ratings file and the README (its licence) flat into the
            # cache folder. Only plain file names are used, so no member can escape
            # the folder; each file appears under its name only once complete.
            for member in zf.infolist():
                base = os.path.basename(member.filename)
                if member.is_dir() or not (
                    base in spec["files"] or base.lower().startswith("readme")
                ):
                    continue
                partial = folder / (base + ".part")
                with zf.open(member) as src, open(partial, "wb") as dst:
                    shutil.copyfileobj(src, dst, length=1 << 20)
                os.replace(partial, folder / base)
    finally:
        if archive.exists():
            archive.unlink()


def _not_found(name, spec, folder, reason):
    return FileNotFoundError(
        f"MovieLens dataset {name!r} was not found{reason}. Put {spec['files'][0]} "
        f"(from {_BASE_URL}{spec['archive']}) in {folder}{os.sep} or pass path=... "
        "(the ratings file or the extracted folder)."
    )


def load_movielens(name="ml-latest-small", *, data_home=None, download=True, path=None):
    """Load a MovieLens rating dataset.

    The ratings are looked for, in order: at ``path`` when given; in the copy of
    ml-latest-small shipped with the package; in the cache folder
    ``<data_home>/<name>/``; finally, when ``download=True``, the official
    GroupLens archive ``https://files.grouplens.org/datasets/movielens/<name>.zip``
    is downloaded once into that cache folder, its SHA-256 checksum verified
    (where the checksum is known; it is unknown, and not verified, for ml-10m),
    and its ratings file and README extracted there (the archive is then
    deleted).

    ML-100K, ML-1M, ML-10M and ML-20M may not be redistributed: they are never
    copied anywhere but the cache folder you choose.

    Parameters
    ----------
    name : {"ml-latest-small", "ml-100k", "ml-1m", "ml-10m", "ml-20m"}, \
            default="ml-latest-small"
        Which dataset.
    data_home : str or path-like, default=None
        The cache folder; by default scikit-learn's
        (:func:`sklearn.datasets.get_data_home`: ``~/scikit_learn_data`` or the
        ``SCIKIT_LEARN_DATA`` environment variable). Each dataset lives in its own
        sub-folder ``<data_home>/<name>/``.
    download : bool, default=True
        Whether to download the dataset when it is not found locally. With False,
        a missing dataset raises :class:`FileNotFoundError`.
    path : str or path-like, default=None
        A ratings file (``u.data``, ``ratings.dat``, ``ratings.csv`` or
        ``ratings.csv.gz``) or a folder holding one, such as the folder the
        official archive extracts to, or the folder that contains it.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the fields

        ratings : scipy.sparse.csr_matrix of shape (n_users, n_items), float64
            Row ``r`` holds the ratings of user ``user_ids[r]``, column ``c``
            those of item ``item_ids[c]``.
        X : ndarray of shape (n_ratings, 2), int64
            Raw ``(user_id, item_id)`` pairs in file order.
        y : ndarray of shape (n_ratings,), float64
            The ratings, in file order.
        user_ids, item_ids : ndarray of int64
            Sorted unique raw ids.
        timestamps : ndarray of shape (n_ratings,), int64, or None
            None when the source has no timestamps.
        timestamp_matrix : CSR int64 of shape (n_users, n_items), or None
            The timestamps at the entries of ``ratings`` (the form
            :func:`~sklearn_autorec.model_selection.leave_one_out_split` takes).
        DESCR : str
            What the dataset is, its counts, rating scale, licence and source file.

    Raises
    ------
    ValueError
        If ``name`` is not a known dataset, or the ratings file is malformed.
    FileNotFoundError
        If the dataset is neither at ``path``, nor shipped, nor cached, and it
        cannot be downloaded (``download=False``, or no network). The message
        says which file to put in which folder.
    OSError
        If a downloaded archive fails its checksum.

    See Also
    --------
    load_ratings_file : Load any supported ratings file.
    make_ratings : Generate synthetic ratings.

    Notes
    -----
    Counts: ml-latest-small 100,836 ratings by 610 users of 9,724 movies
    (0.5..5 in halves); ml-100k 100,000 / 943 / 1,682 (1..5); ml-1m 1,000,209 /
    6,040 / 3,706 (1..5); ml-10m 10,000,054 / 69,878 / 10,677 (0.5..5 in halves);
    ml-20m 20,000,263 / 138,493 / 26,744 (0.5..5 in halves).

    Examples
    --------
    >>> from sklearn_autorec.datasets import load_movielens
    >>> data = load_movielens()  # ml-latest-small, shipped: no download
    >>> data.ratings.shape
    (610, 9724)
    >>> data.X.shape, data.y.shape
    ((100836, 2), (100836,))
    >>> float(data.y.min()), float(data.y.max())
    (0.5, 5.0)
    """
    if not isinstance(name, str) or name not in _DATASETS:
        raise ValueError(
            f"Unknown MovieLens dataset {name!r}; choose one of "
            f"{', '.join(repr(n) for n in _DATASETS)}."
        )
    spec = _DATASETS[name]

    if path is not None:
        path = Path(os.fspath(path))
        if path.is_dir():
            found = _find_in_folder(path, spec)
            if found is None:
                raise FileNotFoundError(
                    f"No {' or '.join(spec['files'])} in {path} or in "
                    f"{path / spec['folder']}: pass the ratings file itself or the "
                    f"folder that holds it (the {spec['folder']} folder of "
                    f"{spec['archive']})."
                )
        elif path.is_file():
            found = path
        else:
            raise FileNotFoundError(
                f"path={str(path)!r} does not exist: pass an existing ratings file or "
                "folder, or leave path=None to use the cache."
            )
    elif name == "ml-latest-small" and _SHIPPED.is_file():
        found = _SHIPPED
    else:
        folder = Path(get_data_home(data_home)) / name
        found = _find_in_folder(folder, spec)
        if found is None:
            if not download:
                raise _not_found(name, spec, folder, " in the cache and download=False")
            try:
                _download(name, spec, folder)
            except _ChecksumError:
                raise
            except (OSError, zipfile.BadZipFile, http.client.HTTPException) as exc:
                raise _not_found(name, spec, folder, f" and could not be downloaded ({exc})")
            found = _find_in_folder(folder, spec)
            if found is None:
                raise _not_found(
                    name, spec, folder, f": {spec['archive']} did not contain it"
                )

    users, items, ratings, timestamps = _parse(_read_bytes(found), found)
    bunch = _build_bunch(users, items, ratings, timestamps)
    extra = ""
    if found.name.startswith("ratings.csv") and bunch.timestamps is None and name == "ml-1m":
        extra = "Item ids may be renumbered (no timestamps in this file)."
    bunch.DESCR = _describe(spec["title"], bunch, str(found), spec["licence"], extra)
    return bunch


# --------------------------------------------------------------------------- synthetic


def _zipf_weights(n, exponent, rng, cap_share):
    """Zipf-like weights over ``n`` ids in random order, no share above ``cap_share``."""
    ranks = rng.permutation(n) + 1.0
    w = ranks ** (-float(exponent))
    w /= w.sum()
    # Water-filling: cap the expected share of the heaviest ids and hand the excess
    # to the others in proportion to their weights.
    cap = max(cap_share, 1.0 / n)
    for _ in range(100):
        over = w > cap * (1 + 1e-12)
        if not over.any():
            break
        excess = (w[over] - cap).sum()
        w[over] = cap
        free = ~over & (w < cap)
        w[free] += excess * w[free] / w[free].sum()
    return w / w.sum()


def _draw(p, size, rng):
    """``size`` i.i.d. draws from ``range(len(p))`` with probabilities ``p``.

    Drawing the counts then shuffling is O(size + len(p)), faster than inverting
    the cumulative distribution for every draw.
    """
    counts = rng.multinomial(size, p)
    return rng.permutation(np.repeat(np.arange(len(p), dtype=np.int64), counts))


def make_ratings(
    n_users=500,
    n_items=300,
    density=0.05,
    *,
    n_factors=8,
    rating_scale=(1, 5),
    noise=0.3,
    popularity_skew=1.0,
    random_state=None,
):
    """Generate synthetic explicit ratings with popularity skew and nonlinear structure.

    Which user rates which item follows Zipf-like activity and popularity: the
    ``j``-th most popular item is drawn with weight ``j ** -popularity_skew`` and
    the ``j``-th most active user with weight ``j ** -(popularity_skew / 2)`` (the
    expected share of any user or item is capped at 50% of its row or column).
    The rating of user ``u`` for item ``i`` is

        r = low + (high - low) * sigmoid(m + b_u + b_i + 2 * p_u . q_i) + e

    with ``p_u``, ``q_i`` random ``n_factors``-dimensional factors, biases ``b``,
    an offset ``m`` that puts the mean rating near 65% of the scale (as in
    MovieLens), and Gaussian noise ``e`` of standard deviation ``noise``; ``r`` is
    clipped to ``rating_scale`` and rounded to whole steps, or to half steps when
    an end of the scale is not a whole number (e.g. ``(0.5, 5)``).

    No (user, item) pair is rated twice, every user and every item has at least
    one rating, and no dense ``n_users x n_items`` array is allocated unless the
    density is above 25% (then one flat array of the cells, at most four times the
    number of ratings): ML-10M scale (69,878 x 10,677, density 1.34%) takes seconds.

    Parameters
    ----------
    n_users : int, default=500
        Number of users (rows).
    n_items : int, default=300
        Number of items (columns).
    density : float in (0, 1], default=0.05
        Fraction of the ``n_users * n_items`` pairs that are rated; the number of
        ratings is ``round(density * n_users * n_items)``, which must be at least
        ``max(n_users, n_items)`` so every user and item gets a rating.
    n_factors : int, default=8
        Rank of the latent interaction.
    rating_scale : tuple (low, high), default=(1, 5)
        Smallest and largest rating.
    noise : float, default=0.3
        Standard deviation of the Gaussian noise added before rounding, in rating
        units.
    popularity_skew : float, default=1.0
        Zipf exponent of item popularity (half of it for user activity); 0 draws
        users and items uniformly.
    random_state : int, RandomState instance or None, default=None
        Seed for reproducible output.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the fields ``ratings`` (CSR float64 of shape
        ``(n_users, n_items)``), ``X`` (int64 ``(user, item)`` pairs, sorted by
        user then item), ``y`` (float64 ratings), ``user_ids``
        (``arange(n_users)``), ``item_ids`` (``arange(n_items)``),
        ``timestamps`` and ``timestamp_matrix`` (None) and ``DESCR``.

    See Also
    --------
    load_movielens : Real MovieLens ratings.

    Examples
    --------
    >>> from sklearn_autorec.datasets import make_ratings
    >>> data = make_ratings(n_users=100, n_items=50, density=0.1, random_state=0)
    >>> data.ratings.shape, data.ratings.nnz
    ((100, 50), 500)
    >>> sorted(set(data.y.tolist())) == [1.0, 2.0, 3.0, 4.0, 5.0]
    True
    >>> bool((data.ratings.getnnz(axis=0) > 0).all())
    True
    """
    for label, value in (("n_users", n_users), ("n_items", n_items), ("n_factors", n_factors)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{label} must be a positive integer; got {value!r}.")
    n_users, n_items, n_factors = int(n_users), int(n_items), int(n_factors)
    if not isinstance(density, (int, float, np.number)) or not 0 < density <= 1:
        raise ValueError(f"density must be a number in (0, 1]; got {density!r}.")
    try:
        low, high = (float(v) for v in rating_scale)
    except (TypeError, ValueError):
        raise ValueError(
            f"rating_scale must be a pair (low, high) of numbers; got {rating_scale!r}."
        ) from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(
            f"rating_scale must be (low, high) with finite low < high; got {rating_scale!r}."
        )
    if not isinstance(noise, (int, float, np.number)) or not noise >= 0:
        raise ValueError(f"noise must be a non-negative number; got {noise!r}.")
    if (
        not isinstance(popularity_skew, (int, float, np.number))
        or not np.isfinite(popularity_skew)
        or popularity_skew < 0
    ):
        raise ValueError(
            f"popularity_skew must be a non-negative number; got {popularity_skew!r}."
        )
    n_cells = n_users * n_items
    n_ratings = int(round(density * n_cells))
    if n_ratings < max(n_users, n_items):
        raise ValueError(
            f"density={density!r} gives {n_ratings} ratings, fewer than "
            f"max(n_users, n_items)={max(n_users, n_items)}, so some user or item "
            f"would have no rating; use density >= {max(n_users, n_items) / n_cells:.3g}."
        )

    rng = np.random.default_rng(check_random_state(random_state).randint(2**31 - 1))
    p_user = _zipf_weights(n_users, popularity_skew / 2, rng, 0.5 * n_items / n_ratings)
    p_item = _zipf_weights(n_items, popularity_skew, rng, 0.5 * n_users / n_ratings)

    # Coverage: one rating for every user and every item, max(n_users, n_items) in
    # all and no two alike: the longer side is matched once each, the shorter side
    # covered by a random subset of the longer one, the rest drawn by popularity.
    if n_users >= n_items:
        cov_u = rng.permutation(n_users)
        cov_i = np.empty(n_users, dtype=np.int64)
        cov_i[:n_items] = np.arange(n_items)
        cov_i[n_items:] = _draw(p_item, n_users - n_items, rng)
    else:
        cov_i = rng.permutation(n_items)
        cov_u = np.empty(n_items, dtype=np.int64)
        cov_u[:n_users] = np.arange(n_users)
        cov_u[n_users:] = _draw(p_user, n_items - n_users, rng)
    keys = cov_u.astype(np.int64) * n_items + cov_i
    need = n_ratings - len(keys)

    if need > 0 and n_ratings > n_cells // 4:
        # Dense regime: weighted sampling without replacement over all free cells
        # (Efraimidis-Spirakis keys), exact and with no rejection loop.
        taken = np.zeros(n_cells, dtype=bool)
        taken[keys] = True
        cells = np.flatnonzero(~taken)
        weight = p_user[cells // n_items] * p_item[cells % n_items]
        score = np.log(rng.random(len(cells))) / weight
        keys = np.concatenate([keys, cells[np.argpartition(-score, need - 1)[:need]]])
    elif need > 0:
        # Sparse regime: draw pairs by activity x popularity, drop repeats and pairs
        # already taken, until there are enough; then keep a random subset.
        cov = np.sort(keys)
        extra = np.empty(0, dtype=np.int64)
        factor = 1.1
        for _ in range(100):
            draw = int((need - len(extra)) * factor) + 100
            new = sort_unique(_draw(p_user, draw, rng) * n_items + _draw(p_item, draw, rng))
            new = new[~np.isin(new, cov, assume_unique=True)]
            before = len(extra)
            extra = sort_unique(np.concatenate([extra, new]))
            if len(extra) >= need:
                break
            # Draw more next time when many draws were repeats.
            factor = min(1.1 * draw / max(len(extra) - before, 1), 50.0)
        else:  # pragma: no cover - needs an extreme skew at moderate density
            raise RuntimeError(
                "Could not draw enough distinct (user, item) pairs; lower "
                "popularity_skew or density."
            )
        keys = np.concatenate([cov, extra[rng.choice(len(extra), need, replace=False)]])
    keys = np.sort(keys)
    users, items = keys // n_items, keys % n_items

    # Ratings: sigmoid of a low-rank interaction plus biases, mapped to the scale.
    P = rng.standard_normal((n_users, n_factors)) / np.sqrt(n_factors)
    Q = rng.standard_normal((n_items, n_factors)) / np.sqrt(n_factors)
    b_user = 0.8 * rng.standard_normal(n_users)
    # Popular items are rated a little higher, as in MovieLens.
    b_item = 0.6 * rng.standard_normal(n_items) + 0.15 * np.log(p_item * n_items)
    b_item -= b_item.mean()
    offset = np.log(0.65 / 0.35)
    z = np.empty(len(keys))
    chunk = 1 << 20
    for start in range(0, len(keys), chunk):
        u, i = users[start : start + chunk], items[start : start + chunk]
        z[start : start + chunk] = np.einsum("ij,ij->i", P[u], Q[i])
    z = offset + b_user[users] + b_item[items] + 2.0 * z
    r = low + (high - low) / (1.0 + np.exp(-z))
    if noise > 0:
        r += noise * rng.standard_normal(len(r))
    step = 1.0 if (low == round(low) and high == round(high)) else 0.5
    r = np.clip(np.round((r - low) / step) * step + low, low, high)

    user_ids = np.arange(n_users, dtype=np.int64)
    item_ids = np.arange(n_items, dtype=np.int64)
    ratings = sp.csr_matrix(
        (r, items, np.concatenate([[0], np.cumsum(np.bincount(users, minlength=n_users))])),
        shape=(n_users, n_items),
    )
    bunch = Bunch(
        ratings=ratings,
        X=np.column_stack([users, items]).astype(np.int64),
        y=r,
        user_ids=user_ids,
        item_ids=item_ids,
        timestamps=None,
        timestamp_matrix=None,
        DESCR="",
    )
    bunch.DESCR = _describe(
        "Synthetic ratings (make_ratings)",
        bunch,
        f"make_ratings(n_users={n_users}, n_items={n_items}, density={density}, "
        f"n_factors={n_factors}, rating_scale={tuple(rating_scale)}, noise={noise}, "
        f"popularity_skew={popularity_skew}, random_state={random_state!r})",
        "synthetic data, free to use.",
        "Rating = scale-mapped sigmoid of a rank-"
        f"{n_factors} interaction plus user and item biases, with Gaussian noise, "
        "rounded; Zipf-like user activity and item popularity.",
    )
    return bunch
