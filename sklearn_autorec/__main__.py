"""The command line: ``autorec`` (or ``python -m sklearn_autorec``).

Without a subcommand it runs the main job: I-AutoRec with its default
parameters on a random 90/10 split of a rating dataset (by default the shipped
MovieLens latest-small, so it runs offline), its test RMSE printed beside the
baseline predictor's.  Subcommands:

``fit``
    Train a model on a dataset or a ratings file and save it with joblib.
``evaluate``
    RMSE, MAE and the number of fallback predictions of a saved model.
``recommend``
    The top-N unrated items of given users, with their predicted ratings.

Every error (a missing or unreadable file, a bad argument or parameter, an
unknown user) is reported as one ``error: ...`` line on stderr with a non-zero
exit status, never a traceback.  See ``docs/recommend.md``.
"""

import argparse
import ast
import os
import pickle
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np

DATASETS = ("ml-100k", "ml-1m", "ml-10m", "ml-20m", "ml-latest-small")
MODELS = {"autorec": "AutoRecRegressor", "mf": "BiasedMFRegressor",
          "baseline": "BaselineRegressor"}
# Files looked for in a folder given as data (MovieLens names, in order).
_RATING_FILES = ("ratings.csv", "ratings.csv.gz", "ratings.dat", "u.data")


class CommandLineError(Exception):
    """A user error: printed as one ``error: ...`` line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    # argparse prints the usage and exits; report one line and let main return.
    def error(self, message):
        raise CommandLineError(f"{message} (see {self.prog} --help)")


def _split(n, test_size, seed):
    perm = np.random.default_rng(seed).permutation(n)
    n_train = int(round((1 - test_size) * n))
    return perm[:n_train], perm[n_train:]


def _rmse(y, pred):
    return float(np.sqrt(np.mean((np.asarray(y) - np.asarray(pred)) ** 2)))


def _load_data(data, download=False, data_home=None):
    """A dataset name, a ratings file, or a folder holding one -> Bunch."""
    from .datasets import load_movielens, load_ratings_file

    if data in DATASETS:
        try:
            return load_movielens(data, data_home=data_home, download=download)
        except FileNotFoundError as exc:
            if download:
                raise
            raise FileNotFoundError(f"{exc} On the command line: add --download, or "
                                    "give the ratings file instead of the name.") from exc
    path = Path(data)
    if path.is_dir():
        for name in _RATING_FILES:
            if (path / name).is_file():
                return load_ratings_file(path / name)
        raise FileNotFoundError(
            f"No ratings file ({', '.join(_RATING_FILES)}) in the folder {data}.")
    if not path.exists():
        raise FileNotFoundError(
            f"{data!r} is neither a dataset name ({', '.join(DATASETS)}) nor an "
            "existing ratings file or folder.")
    return load_ratings_file(path)


# The main job runs AutoRecRegressor with its defaults on every dataset:
# alpha="auto" chooses the penalty on the early-stopping split (before it, the
# shipped latest-small needed a hand-set alpha=700; docs/accuracy.md).
MAIN_JOB_AUTOREC_PARAMS = {}


def run_main_job(data="ml-latest-small", test_size=0.1, seed=0, verbose=False, out=None,
                 autorec_params=None):
    """Fit I-AutoRec and BaselineRegressor() on a random split; print and return RMSEs."""
    out = sys.stdout if out is None else out
    from . import AutoRecRegressor, BaselineRegressor
    from .datasets import load_movielens

    bunch = (load_movielens(data, download=False) if data in DATASETS
             else load_movielens(path=data))
    X, y = bunch.X, bunch.y
    train, test = _split(len(y), test_size, seed)
    print(f"data: {data}: {len(y):,} ratings, {len(bunch.user_ids):,} users, "
          f"{len(bunch.item_ids):,} items; random {1 - test_size:.0%}/{test_size:.0%} "
          f"split (numpy default_rng({seed}) permutation)", file=out)
    results = {}
    params = MAIN_JOB_AUTOREC_PARAMS.get(data, {}) if autorec_params is None else autorec_params
    autorec = AutoRecRegressor(random_state=seed, verbose=verbose, **params)
    models = [("BaselineRegressor()", BaselineRegressor()), ("AutoRec", autorec)]
    for name, model in models:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            model.fit(X[train], y[train])
        seconds = time.perf_counter() - start
        rmse = _rmse(y[test], model.predict(X[test]))
        n_fallback = int(model.fallback_mask(X[test]).sum())
        results[name] = rmse
        extra = f", device {model.device_}, {model.n_iter_} iterations" if hasattr(
            model, "device_") else ""
        print(f"{model!r}: test RMSE {rmse:.4f}, fit {seconds:.1f} s{extra}; "
              f"{n_fallback} test pairs used the unknown-id fallback", file=out)
    gain = results["BaselineRegressor()"] - results["AutoRec"]
    print(f"AutoRec improves on the baseline by {gain:.4f} RMSE", file=out)
    return results


# ------------------------------------------------------------------ subcommands
def _parse_params(pairs, estimator):
    """``["key=value", ...]`` -> dict, values by ``ast.literal_eval`` (else strings)."""
    valid = sorted(estimator.get_params())
    params = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CommandLineError(f"--param expects key=value; got {pair!r}.")
        if key not in valid:
            raise CommandLineError(
                f"{type(estimator).__name__} has no parameter {key!r}; valid ones: "
                f"{', '.join(valid)}.")
        try:
            params[key] = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            params[key] = text.strip()  # a bare word: solver=adam, device=cpu
    return params


def _test_size(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1; got {text}")
    return value


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1; got {text}")
    return value


def _load_model(path):
    import joblib

    from ._base import RatingRegressorBase

    if not os.path.isfile(path):
        raise FileNotFoundError(f"No model file at {path}.")
    try:
        model = joblib.load(path)
    except Exception as exc:  # any unreadable file: pickle, EOF, import, zlib errors
        raise CommandLineError(
            f"cannot read a model from {path}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(model, RatingRegressorBase) or not hasattr(model, "user_ids_"):
        raise CommandLineError(
            f"{path} does not hold a fitted sklearn_autorec model (it holds a "
            f"{type(model).__name__}); create one with the fit subcommand.")
    return model


def _split_data(bunch, test_size, seed):
    if test_size is None:
        return bunch.X, bunch.y, None, None
    train, test = _split(len(bunch.y), test_size, seed)
    return bunch.X[train], bunch.y[train], bunch.X[test], bunch.y[test]


def _report(model, X, y, out):
    pred = model.predict(X)
    fallback = model.fallback_mask(X)
    finite = np.isfinite(pred)
    note = "" if finite.all() else f" (over the {int(finite.sum()):,} non-NaN predictions)"
    err = y[finite] - pred[finite]
    rmse = float(np.sqrt(np.mean(err ** 2))) if finite.any() else float("nan")
    mae = float(np.mean(np.abs(err))) if finite.any() else float("nan")
    print(f"RMSE {rmse:.4f}  MAE {mae:.4f}{note} on {len(y):,} ratings; "
          f"{int(fallback.sum()):,} fallback predictions (unknown user or item, "
          f"unknown={model.unknown!r})", file=out)
    return rmse, mae


def cmd_fit(args, out=None):
    """The ``fit`` subcommand."""
    out = sys.stdout if out is None else out
    import joblib

    from . import AutoRecRegressor, BaselineRegressor, BiasedMFRegressor

    classes = {"autorec": AutoRecRegressor, "mf": BiasedMFRegressor,
               "baseline": BaselineRegressor}
    model = classes[args.model]()
    params = _parse_params(args.param, model)
    defaults = {"random_state": args.seed, "verbose": not args.quiet}
    for key, value in defaults.items():
        if key in model.get_params() and key not in params:
            params[key] = value
    model.set_params(**params)
    model._validate_params()  # a bad value fails now, before the data are read
    bunch = _load_data(args.data, args.download, args.data_home)
    X, y, X_test, y_test = _split_data(bunch, args.test_size, args.seed)
    shown = {k: v for k, v in params.items() if k != "verbose"}
    print(f"fitting {type(model).__name__}"
          f"({', '.join(f'{k}={v!r}' for k, v in sorted(shown.items()))}) on "
          f"{len(y):,} ratings of {args.data}", file=out, flush=True)
    start = time.perf_counter()
    model.fit(X, y)
    print(f"fitted in {time.perf_counter() - start:.1f} s", file=out)
    if X_test is not None:
        print(f"held-out {args.test_size:.0%} (seed {args.seed}): ", end="", file=out)
        _report(model, X_test, y_test, out)
    joblib.dump(model, args.output)
    print(f"saved to {args.output}", file=out)
    return 0


def cmd_evaluate(args, out=None):
    """The ``evaluate`` subcommand."""
    out = sys.stdout if out is None else out
    model = _load_model(args.model)
    bunch = _load_data(args.data, args.download, args.data_home)
    _, _, X_test, y_test = _split_data(bunch, args.test_size, args.seed)
    if X_test is None:
        X_test, y_test = bunch.X, bunch.y
        print(f"all of {args.data}: ", end="", file=out)
    else:
        print(f"held-out {args.test_size:.0%} of {args.data} (seed {args.seed}): ",
              end="", file=out)
    _report(model, X_test, y_test, out)
    return 0


def _parse_users(texts, model):
    if model.user_ids_.dtype.kind in "iu":
        try:
            return np.array([int(t) for t in texts], dtype=np.int64)
        except ValueError:
            bad = next(t for t in texts if not t.strip().lstrip("+-").isdigit())
            raise CommandLineError(
                f"the model's user ids are integers; got {bad!r}.") from None
    return np.array(texts, dtype=str)


def cmd_recommend(args, out=None):
    """The ``recommend`` subcommand."""
    out = sys.stdout if out is None else out
    model = _load_model(args.model)
    users = _parse_users(args.users, model)
    if not args.allow_unknown:
        missing = users[~np.isin(users, model.user_ids_)]
        if len(missing):
            raise CommandLineError(
                f"user {missing[0]!s} has no training ratings in this model "
                f"({len(missing)} of the {len(users)} users are unknown); pass "
                "--allow-unknown to recommend them the items of highest baseline "
                "rating.")
    items, scores = model.recommend(users, n=args.n, exclude_seen=not args.include_seen)
    print("user\trank\titem\tpredicted_rating", file=out)
    for user, row_items, row_scores in zip(users, items, scores):
        for rank, (item, score) in enumerate(zip(row_items, row_scores), 1):
            print(f"{user}\t{rank}\t{item}\t{score:.4f}", file=out)
    return 0


def _wrap(text):
    """Fill each paragraph of a help description (the raw formatter keeps the
    examples' line breaks but does not wrap)."""
    return "\n\n".join(textwrap.fill(p, 79) for p in text.split("\n\n"))


def _add_data_arguments(parser, what):
    parser.add_argument(
        "data", help=f"{what}: a dataset name ({', '.join(DATASETS)}; ml-latest-small is "
                     "shipped, the others are read from the cache) or a ratings file "
                     "(u.data, ratings.dat, ratings.csv[.gz], or any user,item,rating "
                     "csv) or a folder holding one")
    parser.add_argument("--download", action="store_true",
                        help="download a MovieLens dataset missing from the cache")
    parser.add_argument("--data-home", metavar="DIR",
                        help="cache folder of the datasets (default: scikit-learn's)")
    parser.add_argument("--test-size", type=_test_size, metavar="FRACTION",
                        help="hold out this fraction of the ratings, a random split "
                             "(numpy default_rng(SEED) permutation, as the main job's)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the split (and the model's random_state in fit); "
                             "default 0")


def build_parser(prog=None):
    """The argument parser of the command line (main job options + subcommands)."""
    if prog is None:
        prog = ("python -m sklearn_autorec" if sys.argv[0].endswith("__main__.py")
                else "autorec")
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog=prog, formatter_class=fmt,
        description=_wrap(
            "AutoRec and matrix-factorization recommenders from the command "
            "line.\n\nWithout a subcommand: the main job. Train I-AutoRec on a "
            "random 90/10 split (default parameters: the penalty alpha is "
            "chosen on held-out training ratings) and report its test RMSE beside the "
            "baseline predictor (global mean plus regularised user and item "
            "biases); the options below apply to it."),
        epilog=f"examples:\n  {prog}\n"
               f"  {prog} fit ml-latest-small --model autorec --param max_iter=50 "
               "--test-size 0.1 --output model.joblib\n"
               f"  {prog} evaluate model.joblib ml-latest-small --test-size 0.1\n"
               f"  {prog} recommend model.joblib --users 1 2 3 -n 10\n\n"
               f"Run '{prog} SUBCOMMAND --help' for a subcommand's options.")
    parser.add_argument("--data", default="ml-latest-small",
                        help="main job: a dataset name (ml-latest-small, shipped; ml-100k, "
                             "ml-1m, ... from the cache) or a ratings file or folder "
                             "(default: ml-latest-small)")
    parser.add_argument("--test-size", type=_test_size, default=0.1,
                        help="main job: fraction of ratings held out for testing "
                             "(default 0.1)")
    parser.add_argument("--seed", type=int, default=0,
                        help="main job: split and model seed (default 0)")
    parser.add_argument("--verbose", action="store_true",
                        help="main job: print one line per epoch")
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND",
                                parser_class=_Parser)

    fit = sub.add_parser(
        "fit", help="train a model and save it", formatter_class=fmt,
        description=_wrap(
            "Train a model on a dataset or a ratings file and save it with "
            "joblib (joblib.load gives the fitted estimator back). Progress is "
            "printed per epoch."),
        epilog=f"example:\n  {prog} fit ratings.csv --model mf --param n_components=20 "
               "--param alpha=0.05 --test-size 0.1 --output mf.joblib")
    _add_data_arguments(fit, "the training ratings")
    fit.add_argument("--model", choices=sorted(MODELS), default="autorec",
                     help="autorec: AutoRecRegressor, mf: BiasedMFRegressor, baseline: "
                          "BaselineRegressor (default autorec)")
    fit.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                     help="a hyper-parameter of the model, repeatable; the value is "
                          "read as a Python literal (max_iter=50, "
                          "hidden_layer_sizes=(500,), early_stopping=True) or else as "
                          "a string (solver=adam)")
    fit.add_argument("--output", "-o", default="model.joblib", metavar="FILE",
                     help="where to save the fitted model (default model.joblib)")
    fit.add_argument("--quiet", action="store_true",
                     help="no per-epoch progress (verbose=False)")
    fit.set_defaults(func=cmd_fit)

    evaluate = sub.add_parser(
        "evaluate", help="RMSE and MAE of a saved model", formatter_class=fmt,
        description=_wrap(
            "Print the RMSE, the MAE and the number of fallback predictions "
            "(pairs whose user or item had no training rating) of a saved "
            "model on ratings. With --test-size and --seed, only the held-out "
            "part of the same random split as 'fit' used is evaluated."),
        epilog=f"example:\n  {prog} evaluate model.joblib ml-latest-small "
               "--test-size 0.1 --seed 0")
    evaluate.add_argument("model", help="a model file written by fit (or joblib.dump)")
    _add_data_arguments(evaluate, "the ratings to evaluate on")
    evaluate.set_defaults(func=cmd_evaluate)

    recommend = sub.add_parser(
        "recommend", help="top-N items for users", formatter_class=fmt,
        description=_wrap(
            "Print, for each user, the N items of highest predicted rating "
            "that the user did not rate in the training data, as tab-separated "
            "lines: user, rank, item, predicted rating."),
        epilog=f"example:\n  {prog} recommend model.joblib --users 1 2 3 -n 5")
    recommend.add_argument("model", help="a model file written by fit (or joblib.dump)")
    recommend.add_argument("--users", nargs="+", required=True, metavar="USER",
                           help="user ids (read as integers when the model's ids are)")
    recommend.add_argument("-n", type=_positive_int, default=10,
                           help="items per user (default 10)")
    recommend.add_argument("--include-seen", action="store_true",
                           help="also rank the items the user rated in training")
    recommend.add_argument("--allow-unknown", action="store_true",
                           help="recommend to a user without training ratings the items "
                                "of highest baseline rating instead of failing")
    recommend.set_defaults(func=cmd_recommend)
    return parser


def main(argv=None):
    """Run the command line; return the exit status (0 on success).

    Parameters
    ----------
    argv : list of str, default=None
        The arguments (``sys.argv[1:]`` when None).

    Returns
    -------
    status : int
        0 on success; 1 when the work failed (a missing file, a bad value);
        2 for a bad command line.  Errors are printed as one ``error: ...`` line
        on stderr.

    Examples
    --------
    >>> from sklearn_autorec.__main__ import main
    >>> main(["recommend", "missing.joblib", "--users", "1"])  # doctest: +SKIP
    error: No model file at missing.joblib.
    1
    """
    parser = build_parser()
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            args = parser.parse_args(argv)
            if args.command is None:
                run_main_job(args.data, args.test_size, args.seed, args.verbose)
                return 0
            return args.func(args)
    except CommandLineError as exc:
        return _fail(exc, 2)
    except (OSError, ValueError, TypeError, KeyError, IndexError, EOFError,
            pickle.UnpicklingError) as exc:
        return _fail(exc, 1)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


def _fail(exc, status):
    message = " ".join(str(exc).split()) or type(exc).__name__
    print(f"error: {message}", file=sys.stderr)
    return status


def _show_warning(message, category, filename, lineno, file=None, line=None):
    # one line per warning (a ConvergenceWarning of a short fit), no source line
    text = " ".join(str(message).split())
    print(f"warning: {category.__name__}: {text}", file=sys.stderr if file is None else file)


if __name__ == "__main__":
    sys.exit(main())
