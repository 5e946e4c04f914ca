"""Training: a small loop with named events, callbacks, schedules, exact-resume checkpoints,
DDP and AMP. Importing this package imports torch."""

from textkit.train.callbacks import (
    EVENTS,
    Callback,
    CheckpointEvery,
    EarlyStopping,
    GradientClipping,
    HistoryWriter,
    ProgressBar,
    RNNRegularizer,
    write_history,
)
from textkit.train.checkpoint import CheckpointError, read_checkpoint, resolve_checkpoint
from textkit.train.distributed import DistributedInfo, init_distributed
from textkit.train.lr_finder import LRFinderResult, lr_find, suggest_lr
from textkit.train.schedules import (
    Constant,
    OneCycle,
    SlantedTriangular,
    discriminative_lrs,
    one_cycle_lr,
    one_cycle_momentum,
    schedule_from_dict,
    slanted_triangular_lr,
)
from textkit.train.tasks import LanguageModelTask, Seq2SeqTask, StepContext, Task, TaskOutput, evaluate
from textkit.train.trainer import (
    NonFiniteLossError,
    Trainer,
    make_optimizer,
    resolve_device,
    resolve_precision,
    seed_everything,
)

__all__ = [
    "EVENTS",
    "Callback",
    "CheckpointError",
    "CheckpointEvery",
    "Constant",
    "DistributedInfo",
    "EarlyStopping",
    "GradientClipping",
    "HistoryWriter",
    "LRFinderResult",
    "LanguageModelTask",
    "Seq2SeqTask",
    "StepContext",
    "Task",
    "TaskOutput",
    "evaluate",
    "NonFiniteLossError",
    "OneCycle",
    "ProgressBar",
    "RNNRegularizer",
    "SlantedTriangular",
    "Trainer",
    "discriminative_lrs",
    "init_distributed",
    "lr_find",
    "make_optimizer",
    "one_cycle_lr",
    "one_cycle_momentum",
    "read_checkpoint",
    "resolve_checkpoint",
    "resolve_device",
    "resolve_precision",
    "schedule_from_dict",
    "seed_everything",
    "slanted_triangular_lr",
    "suggest_lr",
    "write_history",
]
