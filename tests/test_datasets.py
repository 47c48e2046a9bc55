"""Tests of sklearn_autorec.datasets: readers, MovieLens loader, generator."""

import gzip
import hashlib
import io
import urllib.error
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_autorec import datasets
from sklearn_autorec.datasets import load_movielens, load_ratings_file, make_ratings

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
if not SHARED.exists():
    SHARED = Path("/work/shared/data")
ML100K = SHARED / "ml-100k"
ML1M = SHARED / "ml-1m"
LATEST = SHARED / "ml-latest-small"
PACKAGE_DATA = Path(datasets.__file__).resolve().parent / "data"


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """No test may reach the network: any download attempt fails loudly."""

    def fetch(url, destination):
        raise AssertionError(f"test tried to download {url}")

    monkeypatch.setattr(datasets, "_fetch", fetch)


def check_bunch(data, n_ratings, n_users, n_items):
    """The fields every loader returns, and their consistency."""
    assert set(data) >= {"ratings", "X", "y", "user_ids", "item_ids", "timestamps", "DESCR"}
    R = data.ratings
    assert sp.issparse(R) and R.format == "csr" and R.dtype == np.float64
    assert R.shape == (n_users, n_items) and R.nnz == n_ratings
    assert R.has_sorted_indices
    assert data.X.shape == (n_ratings, 2) and data.X.dtype == np.int64
    assert data.y.shape == (n_ratings,) and data.y.dtype == np.float64
    assert data.user_ids.dtype == np.int64 and data.item_ids.dtype == np.int64
    np.testing.assert_array_equal(data.user_ids, np.unique(data.X[:, 0]))
    np.testing.assert_array_equal(data.item_ids, np.unique(data.X[:, 1]))
    rows = np.searchsorted(data.user_ids, data.X[:, 0])
    cols = np.searchsorted(data.item_ids, data.X[:, 1])
    np.testing.assert_array_equal(np.asarray(R[rows, cols]).ravel(), data.y)
    if data.timestamps is not None:
        assert data.timestamps.shape == (n_ratings,)
        assert data.timestamps.dtype == np.int64
    assert isinstance(data.DESCR, str) and f"{n_ratings:,} ratings" in data.DESCR


# --------------------------------------------------------------------------- shipped data


def test_shipped_files():
    folder = PACKAGE_DATA / "ml-latest-small"
    assert sorted(p.name for p in folder.iterdir()) == ["README.txt", "ratings.csv.gz"]
    with gzip.open(folder / "ratings.csv.gz", "rt") as f:
        assert f.readline().strip() == "userId,movieId,rating,timestamp"
    # Only ml-latest-small may be redistributed: nothing else is shipped.
    assert sorted(p.name for p in PACKAGE_DATA.iterdir()) == ["ml-latest-small"]


@pytest.mark.skipif(not LATEST.exists(), reason="shared MovieLens data not available")
def test_shipped_copy_matches_original():
    folder = PACKAGE_DATA / "ml-latest-small"
    assert (folder / "README.txt").read_bytes() == (LATEST / "README.txt").read_bytes()
    with gzip.open(folder / "ratings.csv.gz", "rb") as f:
        assert f.read() == (LATEST / "ratings.csv").read_bytes()


def test_load_movielens_default_is_shipped_latest_small(tmp_path):
    data = load_movielens(data_home=tmp_path, download=False)
    check_bunch(data, 100836, 610, 9724)
    assert data.y.min() == 0.5 and data.y.max() == 5.0
    assert set(np.unique(data.y * 2)) == set(range(1, 11))
    assert data.timestamps is not None and data.timestamps.min() > 8e8
    # file order: the first line of ratings.csv is 1,1,4.0,964982703
    assert data.X[0].tolist() == [1, 1] and data.y[0] == 4.0
    assert data.timestamps[0] == 964982703
    assert "MovieLens latest-small" in data.DESCR and "redistributed" in data.DESCR
    assert "610 users" in data.DESCR and "9,724 items" in data.DESCR
    assert "half steps" in data.DESCR and "ratings.csv.gz" in data.DESCR
    assert list(tmp_path.iterdir()) == []  # the cache was not used


# --------------------------------------------------------------------------- readers


def write(path, text, compress=False):
    path = Path(path)
    if compress:
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


TAB = "3\t10\t4\t881250949\n1\t20\t2\t891717742\n1\t10\t5\t878887116\n"
DAT = "3::10::4::881250949\n1::20::2::891717742\n1::10::5::878887116\n"
CSV4 = "userId,movieId,rating,timestamp\n3,10,4.0,881250949\n1,20,2.0,891717742\n1,10,5,878887116\n"
CSV3 = "user,item,rating\n3,10,4\n1,20,2\n1,10,5\n"


@pytest.mark.parametrize(
    "name, text, compress, has_time",
    [
        ("u.data", TAB, False, True),
        ("ratings.dat", DAT, False, True),
        ("ratings.csv", CSV4, False, True),
        ("ratings.csv", CSV3, False, False),
        ("ratings.csv.gz", CSV3, True, False),
        ("ratings.csv.gz", CSV4, True, True),
        ("u.data.gz", TAB, True, True),
        ("noheader.csv", CSV3.split("\n", 1)[1], False, False),
    ],
)
def test_load_ratings_file_formats(tmp_path, name, text, compress, has_time):
    data = load_ratings_file(write(tmp_path / name, text, compress))
    check_bunch(data, 3, 2, 2)
    assert data.X.tolist() == [[3, 10], [1, 20], [1, 10]]
    assert data.y.tolist() == [4.0, 2.0, 5.0]
    assert data.user_ids.tolist() == [1, 3] and data.item_ids.tolist() == [10, 20]
    # row = user in sorted id order, column = item in sorted id order
    assert data.ratings.indptr.tolist() == [0, 2, 3]
    assert data.ratings.indices.tolist() == [0, 1, 0]
    assert data.ratings.data.tolist() == [5.0, 2.0, 4.0]
    if has_time:
        assert data.timestamps.tolist() == [881250949, 891717742, 878887116]
    else:
        assert data.timestamps is None
        assert "no timestamps" in data.DESCR
    assert name in data.DESCR


def test_load_ratings_file_keeps_zero_and_negative_ratings(tmp_path):
    path = write(tmp_path / "jester.csv", "user,item,rating\n0,0,0\n0,1,-9.5\n1,1,0.0\n")
    data = load_ratings_file(path)
    assert data.ratings.nnz == 3
    assert data.ratings.data.tolist() == [0.0, -9.5, 0.0]
    assert data.y.tolist() == [0.0, -9.5, 0.0]


def test_load_ratings_file_tolerates_blank_lines_and_crlf(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(b"\r\n\nuser,item,rating\r\n1,1,3\r\n\r\n2,1,4\r\n\r\n")
    data = load_ratings_file(path)
    assert data.y.tolist() == [3.0, 4.0]


@pytest.mark.parametrize(
    "text, match",
    [
        ("user,item,rating\n1,1,3\n\n2,2\n", r"r\.txt, line 4: expected 3 columns .* found 2"),
        ("1\t1\t3\t5\n2\t2\t3\t5\t9\n", r"r\.txt, line 2: expected 4 columns .* found 5"),
        ("user,item,rating\n1,1,3\n2,2,good\n", r"line 3, column 3: the rating must be a number"),
        ("1::1::3::5\n1.5::2::3::5\n", r"line 2, column 1: the user id must be an integer"),
        ("1,1,3\n2,x,3\n", r"line 2, column 2: the item id must be an integer; got 'x'"),
        ("1,1,3\n2,2,nan\n", r"line 2, column 3: the rating must be finite"),
        ("1,1,3,999\n2,2,3,soon\n", r"line 2, column 4: the timestamp must be an integer"),
        ("user,item\n1,1\n", r"r\.txt, header: expected 3 or 4 columns"),
        ("1 1 3\n", r"r\.txt, line 1: cannot tell the column separator"),
        ("\n\nuser,item,rating\n1,1,3\n2,2,x\n", r"r\.txt, line 5, column 3: the rating"),
        ("\n1\t1\n", r"r\.txt, line 2: expected 3 or 4 columns"),
        ("", r"r\.txt holds no ratings"),
        ("\n\n", r"r\.txt holds no ratings"),
        ("user,item,rating\n", r"r\.txt holds no ratings: only a header"),
    ],
)
def test_load_ratings_file_rejects_malformed(tmp_path, text, match):
    path = write(tmp_path / "r.txt", text)
    with pytest.raises(ValueError, match=match):
        load_ratings_file(path)


def test_load_ratings_file_rejects_duplicate_pairs(tmp_path):
    path = write(tmp_path / "r.csv", "1,10,3\n2,10,4\n1,10,5\n")
    with pytest.raises(ValueError, match=r"pair \(1, 10\) is rated more than once .*0 and 2"):
        load_ratings_file(path)


def test_load_ratings_file_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="No ratings file at"):
        load_ratings_file(tmp_path / "nope.csv")


# --------------------------------------------------------------------------- MovieLens


@pytest.mark.skipif(not ML100K.exists(), reason="shared ML-100K not available")
@pytest.mark.parametrize("where", ["folder", "file", "parent"])
def test_load_movielens_100k_from_path(where):
    path = {"folder": ML100K, "file": ML100K / "u.data", "parent": SHARED}[where]
    data = load_movielens("ml-100k", path=path, download=False)
    check_bunch(data, 100000, 943, 1682)
    assert data.user_ids.tolist() == list(range(1, 944))
    assert data.item_ids.tolist() == list(range(1, 1683))
    assert sorted(np.unique(data.y)) == [1, 2, 3, 4, 5]
    assert data.X[0].tolist() == [196, 242] and data.timestamps[0] == 881250949
    assert "MovieLens 100K" in data.DESCR and "may not be redistributed" in data.DESCR


@pytest.mark.skipif(not ML1M.exists(), reason="shared ML-1M not available")
def test_load_movielens_1m_from_path():
    data = load_movielens("ml-1m", path=ML1M, download=False)
    check_bunch(data, 1000209, 6040, 3706)
    assert data.timestamps is None
    assert data.y.mean() == pytest.approx(3.5816, abs=1e-4)


@pytest.mark.skipif(not LATEST.exists(), reason="shared MovieLens data not available")
def test_load_movielens_latest_small_from_path_matches_shipped():
    from_path = load_movielens("ml-latest-small", path=LATEST)
    shipped = load_movielens("ml-latest-small")
    check_bunch(from_path, 100836, 610, 9724)
    np.testing.assert_array_equal(from_path.X, shipped.X)
    np.testing.assert_array_equal(from_path.y, shipped.y)
    np.testing.assert_array_equal(from_path.timestamps, shipped.timestamps)


def test_load_movielens_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"Unknown MovieLens dataset 'ml-25m'; choose one of"):
        load_movielens("ml-25m")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_movielens("ml-100k", path=tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match=r"No u\.data in .* pass the ratings file"):
        load_movielens("ml-100k", path=tmp_path)


def test_load_movielens_path_with_own_file_name(tmp_path):
    path = write(tmp_path / "mine.tsv", TAB)
    data = load_movielens("ml-100k", path=path)
    check_bunch(data, 3, 2, 2)
    assert "MovieLens 100K" in data.DESCR and "mine.tsv" in data.DESCR


def test_load_movielens_from_cache(tmp_path):
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    write(folder / "ratings.dat", DAT)
    data = load_movielens("ml-1m", data_home=tmp_path, download=False)
    check_bunch(data, 3, 2, 2)
    assert "MovieLens 1M" in data.DESCR and str(folder) in data.DESCR


def test_load_movielens_from_cache_extracted_subfolder(tmp_path):
    # A user unzipped ml-10m.zip by hand into the cache folder.
    folder = tmp_path / "ml-10m" / "ml-10M100K"
    folder.mkdir(parents=True)
    write(folder / "ratings.dat", DAT)
    data = load_movielens("ml-10m", data_home=tmp_path, download=False)
    check_bunch(data, 3, 2, 2)


def test_load_movielens_missing_without_download(tmp_path):
    expected = str(tmp_path / "ml-100k")
    with pytest.raises(FileNotFoundError, match=r"Put u\.data .* in ") as info:
        load_movielens("ml-100k", data_home=tmp_path, download=False)
    message = str(info.value)
    assert expected in message and "path=" in message and "download=False" in message
    assert "https://files.grouplens.org/datasets/movielens/ml-100k.zip" in message
    assert isinstance(info.value, OSError)


def fake_archive(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture
def fake_download(monkeypatch):
    """Replace the downloader by one serving a fake ml-100k.zip; count the calls."""
    archive = fake_archive(
        {
            "ml-100k/": "",
            "ml-100k/u.data": TAB,
            "ml-100k/README": "fake readme",
            "ml-100k/u.item": "not needed",
            "../../readme.escape": "must stay inside the cache folder",
        }
    )
    calls = []

    def fetch(url, destination):
        calls.append((url, Path(destination)))
        Path(destination).write_bytes(archive)

    monkeypatch.setattr(datasets, "_fetch", fetch)
    monkeypatch.setitem(
        datasets._DATASETS["ml-100k"], "sha256", hashlib.sha256(archive).hexdigest()
    )
    return calls


def test_download_once_then_cache(tmp_path, fake_download):
    home = tmp_path / "home"
    data = load_movielens("ml-100k", data_home=home)
    check_bunch(data, 3, 2, 2)
    assert len(fake_download) == 1
    url, destination = fake_download[0]
    assert url == "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
    assert destination.parent == home / "ml-100k"
    # ratings and README extracted flat into the cache folder, archive removed,
    # nothing escaped the folder
    assert sorted(p.name for p in (home / "ml-100k").iterdir()) == [
        "README",
        "readme.escape",
        "u.data",
    ]
    assert (home / "ml-100k" / "README").read_text() == "fake readme"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]
    # second call: read from the cache, no download (even when allowed)
    again = load_movielens("ml-100k", data_home=home)
    assert len(fake_download) == 1
    np.testing.assert_array_equal(again.X, data.X)
    again = load_movielens("ml-100k", data_home=home, download=False)
    assert len(fake_download) == 1


def test_download_checksum_mismatch(tmp_path, fake_download, monkeypatch):
    monkeypatch.setitem(datasets._DATASETS["ml-100k"], "sha256", "0" * 64)
    with pytest.raises(OSError, match=r"SHA-256 is [0-9a-f]{64}, expected 0{64}"):
        load_movielens("ml-100k", data_home=tmp_path)
    # the corrupt archive is not kept, and nothing was extracted
    assert list((tmp_path / "ml-100k").iterdir()) == []


def test_download_without_known_checksum(tmp_path, fake_download, monkeypatch):
    monkeypatch.setitem(datasets._DATASETS["ml-100k"], "sha256", None)
    data = load_movielens("ml-100k", data_home=tmp_path)
    check_bunch(data, 3, 2, 2)


def test_download_failure_is_clear(tmp_path, monkeypatch):
    def offline(url, destination):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(datasets, "_fetch", offline)
    with pytest.raises(
        FileNotFoundError, match=r"could not be downloaded .*unreachable.*Put ratings\.dat"
    ):
        load_movielens("ml-1m", data_home=tmp_path)


def test_download_archive_without_ratings(tmp_path, monkeypatch):
    archive = fake_archive({"ml-100k/README": "no data"})

    def fetch(url, destination):
        Path(destination).write_bytes(archive)

    monkeypatch.setattr(datasets, "_fetch", fetch)
    monkeypatch.setitem(datasets._DATASETS["ml-100k"], "sha256", None)
    with pytest.raises(FileNotFoundError, match="did not contain it"):
        load_movielens("ml-100k", data_home=tmp_path)


def test_download_bad_zip(tmp_path, monkeypatch):
    def fetch(url, destination):
        Path(destination).write_bytes(b"<html>not a zip</html>")

    monkeypatch.setattr(datasets, "_fetch", fetch)
    monkeypatch.setitem(datasets._DATASETS["ml-100k"], "sha256", None)
    with pytest.raises(FileNotFoundError, match="could not be downloaded"):
        load_movielens("ml-100k", data_home=tmp_path)


def test_known_checksums_are_well_formed():
    for name, spec in datasets._DATASETS.items():
        assert spec["archive"] == f"{name}.zip"
        if spec["sha256"] is not None:
            assert len(spec["sha256"]) == 64 and int(spec["sha256"], 16) >= 0
    assert datasets._DATASETS["ml-10m"]["sha256"] is None


# --------------------------------------------------------------------------- make_ratings


def test_make_ratings_basic():
    data = make_ratings(n_users=200, n_items=100, density=0.05, random_state=0)
    check_bunch(data, 1000, 200, 100)
    R = data.ratings
    assert data.timestamps is None
    assert data.user_ids.tolist() == list(range(200))
    assert data.item_ids.tolist() == list(range(100))
    # row r is user r, column c is item c
    np.testing.assert_array_equal(np.repeat(np.arange(200), np.diff(R.indptr)), data.X[:, 0])
    np.testing.assert_array_equal(R.indices, data.X[:, 1])
    np.testing.assert_array_equal(R.data, data.y)
    # no duplicate pairs, everyone rated and rated
    keys = data.X[:, 0] * 100 + data.X[:, 1]
    assert len(np.unique(keys)) == 1000
    assert R.getnnz(axis=1).min() >= 1 and R.getnnz(axis=0).min() >= 1
    assert set(np.unique(data.y)) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert len(np.unique(data.y)) >= 4
    assert "Synthetic" in data.DESCR and "random_state=0" in data.DESCR


def test_make_ratings_deterministic():
    a = make_ratings(300, 200, 0.03, random_state=42)
    b = make_ratings(300, 200, 0.03, random_state=np.random.RandomState(42))
    c = make_ratings(300, 200, 0.03, random_state=43)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.X, c.X)


def test_make_ratings_popularity_skew():
    skewed = make_ratings(2000, 500, 0.02, popularity_skew=1.0, random_state=0).ratings
    flat = make_ratings(2000, 500, 0.02, popularity_skew=0.0, random_state=0).ratings
    item_counts = np.sort(skewed.getnnz(axis=0))[::-1]
    # a long tail: the top 10% of items hold a large share of the ratings
    assert item_counts[:50].sum() > 0.4 * skewed.nnz
    assert item_counts[0] > 10 * np.median(item_counts)
    flat_counts = np.sort(flat.getnnz(axis=0))[::-1]
    assert flat_counts[:50].sum() < 0.2 * flat.nnz
    assert skewed.getnnz(axis=1).max() > 3 * np.median(skewed.getnnz(axis=1))


def test_make_ratings_structure_is_learnable():
    # With no noise, ratings are a function of the latent structure: a user's
    # ratings correlate with the item means (item biases), far above chance.
    data = make_ratings(400, 100, 0.3, noise=0.0, random_state=0)
    R = data.ratings.tocsc()
    item_mean = np.asarray(R.sum(axis=0)).ravel() / R.getnnz(axis=0)
    corr = np.corrcoef(item_mean[data.X[:, 1]], data.y)[0, 1]
    assert corr > 0.3
    assert 3.0 < data.y.mean() < 4.2 and data.y.std() > 0.5


def test_make_ratings_scale_halves():
    data = make_ratings(100, 80, 0.1, rating_scale=(0.5, 5), random_state=0)
    assert data.y.min() >= 0.5 and data.y.max() <= 5.0
    np.testing.assert_array_equal(data.y * 2, np.round(data.y * 2))
    assert not np.array_equal(data.y, np.round(data.y))
    assert "half steps" in data.DESCR


@pytest.mark.parametrize("density", [0.3, 0.9, 1.0])
def test_make_ratings_dense_regime(density):
    data = make_ratings(60, 40, density, random_state=0)
    R = data.ratings
    assert R.nnz == round(density * 2400)
    assert len(np.unique(data.X[:, 0] * 40 + data.X[:, 1])) == R.nnz
    assert R.getnnz(axis=1).min() >= 1 and R.getnnz(axis=0).min() >= 1


def test_make_ratings_more_items_than_users():
    data = make_ratings(20, 300, 0.05, random_state=0)
    assert data.ratings.shape == (20, 300) and data.ratings.nnz == 300
    assert data.ratings.getnnz(axis=0).min() == 1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_users": 0}, "n_users must be a positive integer"),
        ({"n_items": 2.5}, "n_items must be a positive integer"),
        ({"n_factors": 0}, "n_factors must be a positive integer"),
        ({"density": 0}, r"density must be a number in \(0, 1\]"),
        ({"density": 1.5}, r"density must be a number in \(0, 1\]"),
        ({"density": 0.001}, r"gives 150 ratings, fewer than max\(n_users, n_items\)=500"),
        ({"rating_scale": (5, 1)}, "finite low < high"),
        ({"rating_scale": "1-5"}, r"rating_scale must be a pair \(low, high\)"),
        ({"noise": -1}, "noise must be a non-negative number"),
        ({"popularity_skew": -0.5}, "popularity_skew must be a non-negative number"),
    ],
)
def test_make_ratings_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_ratings(**kwargs)


@pytest.mark.slow
def test_make_ratings_ml10m_scale():
    data = make_ratings(69878, 10677, 0.0134, random_state=0)
    R = data.ratings
    assert R.shape == (69878, 10677) and R.nnz == round(0.0134 * 69878 * 10677)
    assert R.getnnz(axis=1).min() >= 1 and R.getnnz(axis=0).min() >= 1
    assert np.all(np.diff(data.X[:, 0] * 10677 + data.X[:, 1]) > 0)  # sorted, unique


def test_readers_do_not_need_pandas(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pandas", None)  # any "import pandas" now fails
    data = load_ratings_file(write(tmp_path / "ratings.csv.gz", CSV4, compress=True))
    check_bunch(data, 3, 2, 2)
    assert make_ratings(50, 30, 0.1, random_state=0).ratings.nnz == 150


def test_timestamp_matrix_is_the_timestamps_at_the_ratings_entries(tmp_path):
    from sklearn_autorec.model_selection import leave_one_out_split

    path = tmp_path / "r.csv"
    path.write_text("user,item,rating,timestamp\n2,20,4,50\n1,10,5,7\n1,30,3,9\n2,10,1,60\n"
                    "1,20,2,8\n")
    data = load_ratings_file(path)
    T = data.timestamp_matrix
    assert sp.issparse(T) and T.shape == data.ratings.shape
    assert np.array_equal(T.indptr, data.ratings.indptr)
    assert np.array_equal(T.indices, data.ratings.indices)
    rows = np.searchsorted(data.user_ids, data.X[:, 0])
    cols = np.searchsorted(data.item_ids, data.X[:, 1])
    assert T[rows, cols].A1.tolist() == data.timestamps.tolist()
    _, test, _ = leave_one_out_split(data.ratings, timestamps=T)
    # the latest rating of each user is the test one: (1, 30) at 9 and (2, 10) at 60
    assert sorted(zip(*test.nonzero())) == [(0, 2), (1, 0)]
    plain = tmp_path / "plain.csv"
    plain.write_text("user,item,rating\n1,2,3\n")
    assert load_ratings_file(plain).timestamp_matrix is None
    assert make_ratings(n_users=5, n_items=4, density=0.5, random_state=0).timestamp_matrix \
        is None
