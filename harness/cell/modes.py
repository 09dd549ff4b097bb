"""The seeding modes as records: the one place that says what each mode seeds, where
its lines go, what its child process gets, and how the report draws it.

A mode stands for what a user's program does. Its ``lines`` are that program's
seeding code, each at its ``Place``: at start-up, at every reseed (``ctx.reseed()``,
the pair idiom's "seed again"), next to every ``random.seed(x)`` the code makes,
in a DataLoader's ``worker_init_fn``, as a DataLoader's ``generator=``, or as a
generator seeded per rank. ``harness.cell.seeding`` applies exactly these lines
at exactly these places, so the rows of a mode verify its lines as a fix; the
report prints them from here.

Modes are ordered by what they apply, never by their position in a list:
``a.covers(b)`` when ``a`` applies every line of ``b`` (so it seeds every generator
``b`` seeds, at least where ``b`` does). ``numpy`` and ``torch`` are incomparable.

Adding a mode is one record in ``MODES`` (and its tests). A *fix recipe* (``recipe``)
is a mode that exists to verify one fix; cells run it when ``--seeding`` names it.

Standard library only, Python 3.7+: both sides import it.
"""
import enum
from dataclasses import dataclass
from typing import Tuple

# The global generators a mode can seed (rows ``rng.<generator>`` name them).
PYTHON, NUMPY, TORCH, CUDA = "python", "numpy", "torch", "cuda"
GENERATORS = (PYTHON, NUMPY, TORCH, CUDA)


class Place(enum.Enum):
    """Where a line of seeding code goes: ``label`` a code comment, ``words`` a sentence."""
    ENVIRONMENT = ("before Python starts", "in the environment, before Python starts")
    RESEED = ("at start-up and wherever the program reseeds",
              "at start-up and wherever the program reseeds to repeat its draws")
    RANDOM_SEED = ("next to every random.seed(x)", "next to every `random.seed(x)` the code "
                                                   "calls, its own datasets' included")
    WORKER_INIT = ("in every DataLoader", "in every DataLoader, as its `worker_init_fn`")
    LOADER = ("in every DataLoader", "in every DataLoader, as its `generator`")
    PER_RANK = ("in every DataLoader of every rank", "in every DataLoader of every process "
                                                     "(DDP rank), seeded `seed + rank`")
    PROCESS = ("once per process", "once per process, at start-up")

    @property
    def label(self):
        return self.value[0]

    @property
    def words(self):
        return self.value[1]


@dataclass(frozen=True)
class Line:
    """One line of seeding code at its place. ``generator``: the global generator it
    seeds ("" for flags and loader arguments); ``torch``: the torch releases that have
    what it calls (">=1.6": DataLoader(generator=) is 1.6+; below, it raises TypeError)."""
    place: Place
    code: str
    generator: str = ""
    torch: str = ""


line = Line


SEED_WORKER = ("def seed_worker(worker_id):  # PyTorch's reproducibility notes\n"
               "    worker_seed = torch.initial_seed() % 2**32\n"
               "    numpy.random.seed(worker_seed)\n"
               "    random.seed(worker_seed)")
_SEEDS = {PYTHON: "random.seed(seed)", NUMPY: "np.random.seed(seed)",
          TORCH: "torch.manual_seed(seed)", CUDA: "torch.cuda.manual_seed_all(seed)"}


def _seeding(*generators):
    """The lines that seed ``generators`` at start-up and at every reseed."""
    return tuple(line(Place.RESEED, _SEEDS[g], g) for g in generators)


_HASH_SEED = line(Place.ENVIRONMENT, "PYTHONHASHSEED=0  # set before Python starts")
_CUBLAS = line(Place.ENVIRONMENT, "CUBLAS_WORKSPACE_CONFIG=:4096:8")
_DETERMINISTIC = (
    line(Place.PROCESS, "torch.use_deterministic_algorithms(True)", torch=">=1.8"),
    line(Place.PROCESS, "torch.backends.cudnn.deterministic = True"),
    line(Place.PROCESS, "torch.backends.cudnn.benchmark = False"))
_WORKER_INIT = line(Place.WORKER_INIT, "DataLoader(..., worker_init_fn=seed_worker)")
_LOADER_GENERATOR = line(Place.LOADER,
                         "DataLoader(..., generator=torch.Generator().manual_seed(seed))",
                         torch=">=1.6")
_RANK_GENERATOR = line(Place.PER_RANK,
                       "DataLoader(..., generator=torch.Generator().manual_seed(seed + rank))",
                       torch=">=1.6")
_TORCH_WITH_RANDOM = line(Place.RANDOM_SEED, "torch.manual_seed(x)  # next to random.seed(x)",
                          TORCH)
_FULL = (_seeding(PYTHON, NUMPY, TORCH, CUDA) + (_HASH_SEED, _CUBLAS) + _DETERMINISTIC
         + (_WORKER_INIT,))


@dataclass(frozen=True)
class Mode:
    """One seeding mode. ``recipe``: a fix recipe; ``default``: run unless --seeding
    says otherwise; ``colour`` and ``marker``: how the report's plot draws it."""
    name: str
    summary: str
    lines: Tuple[Line, ...]
    recipe: bool = False
    default: bool = True
    colour: str = "#333"
    marker: str = "circle"

    @property
    def seeds(self):
        """The global generators seeded at start-up (and at every reseed)."""
        return frozenset(ln.generator for ln in self.lines
                         if ln.generator and ln.place == Place.RESEED)

    @property
    def seeded(self):
        """Every global generator a line of this mode seeds, wherever it goes."""
        return frozenset(ln.generator for ln in self.lines if ln.generator)

    @property
    def env(self):
        """(name, value) pairs the child process gets in its environment."""
        return tuple(tuple(ln.code.split("  #")[0].split("=", 1)) for ln in self.lines
                     if ln.place == Place.ENVIRONMENT)

    def applies(self, place):
        return any(ln.place == place for ln in self.lines)

    def at(self, place):
        return tuple(ln for ln in self.lines if ln.place == place)

    def covers(self, other):
        """Whether this mode applies every line ``other`` applies (the partial order)."""
        return set(other.lines) <= set(self.lines)

    def added_to(self, other):
        """The lines this mode applies that ``other`` does not, in this mode's order."""
        theirs = set(other.lines)
        return tuple(ln for ln in self.lines if ln not in theirs)


def _mode(name, summary, lines, recipe=False, default=None, colour="#333", marker="circle"):
    default = not recipe if default is None else default
    return Mode(name, summary, tuple(lines), recipe, default, colour, marker)


MODES = (
    _mode("none", "no seeding (a script that never seeds)", (), colour="#7f7f7f",
          marker="circle"),
    _mode("numpy", "numpy.random.seed only (NumPy-style code)", _seeding(NUMPY),
          default=False, colour="#17becf", marker="star"),
    _mode("python", "random.seed + numpy.random.seed (most tutorials before 2020)",
          _seeding(PYTHON, NUMPY), colour="#1f77b4", marker="square"),
    _mode("torch", "torch.manual_seed only", _seeding(TORCH), colour="#d62728",
          marker="triangle"),
    _mode("all", "random, numpy, torch and cuda seeded", _seeding(PYTHON, NUMPY, TORCH, CUDA),
          colour="#2ca02c", marker="diamond"),
    # Fix recipes (recipe=True) add one fix to a mode, so their rows verify that fix; each
    # is declared after every mode it covers.
    _mode("python-torch", "python seeding, and torch.manual_seed(x) next to every "
                          "random.seed(x) the code makes (datasets that reseed only random)",
          _seeding(PYTHON, NUMPY) + (_TORCH_WITH_RANDOM,), recipe=True, colour="#8c564b",
          marker="square"),
    _mode("workers", "all + a worker_init_fn that seeds random and NumPy in every DataLoader "
                     "worker (the code's own loaders included)",
          _seeding(PYTHON, NUMPY, TORCH, CUDA) + (_WORKER_INIT,), recipe=True, colour="#e377c2",
          marker="diamond"),
    _mode("generator", "all + a seeded generator= in every DataLoader (torch >= 1.6), so "
                       "shuffling stops sharing the global stream",
          _seeding(PYTHON, NUMPY, TORCH, CUDA) + (_LOADER_GENERATOR,), recipe=True,
          colour="#7f7f00", marker="triangle"),
    _mode("full", "all + PyTorch's reproducibility recipe (hash seed, deterministic "
                  "algorithms, DataLoader worker_init_fn and generator)",
          _FULL + (_LOADER_GENERATOR,), colour="#9467bd", marker="cross"),
    _mode("ranks", "full, with each process's (DDP rank's) DataLoader generator seeded "
                   "seed + rank", _FULL + (_RANK_GENERATOR,), recipe=True, colour="#bcbd22",
          marker="cross"),
)
BY_NAME = dict((m.name, m) for m in MODES)
NAMES = tuple(m.name for m in MODES)
# What a cell runs unless --seeding says otherwise.
DEFAULT = tuple(m.name for m in MODES if m.default)


def get(name):
    """The record of mode ``name`` (KeyError for an unknown name)."""
    return BY_NAME[name]


def known(name):
    return name in BY_NAME


_SEEDED = dict((m.name, m.seeded) for m in MODES)


def seeded(name):
    """The generators mode ``name`` seeds anywhere (empty for a name this rngdrift does
    not know): a generator outside it is unseeded under that mode."""
    return _SEEDED.get(name, frozenset())


def weakest_first(names):
    """``names`` in the order ``MODES`` declares them, which puts every mode after each
    mode it covers (a test holds it so): a stable reading order, not a rank."""
    return sorted((n for n in set(names) if n in BY_NAME), key=NAMES.index)
