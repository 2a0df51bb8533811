"""Every number the training-health checks judge by, each with why it is that number.

The checks (``artifacts.health.checks``) read these; a change here changes what a run is told, so
each value says where it comes from (a research note, Hugging Face's early stopping, plain
statistics) and what it protects against.
"""

# Fewer training losses than this and trends (plateau, still improving, spikes) are noise: with 10
# points the "last fifth" of a run is two points. Below it only the divergence check is judged.
MIN_TRAINING_POINTS = 10

# Overfitting needs a minimum and evidence of a rise after it: at least three evaluations.
MIN_VALIDATION_POINTS = 3

# Trend checks compare robust levels: the training history is cut into this many equal parts and
# each part's median is its level, so a single noisy batch cannot move a level. 20 parts make the
# first level the "median of the first 5%" the research note proposes as the start reference
# (research/peers-and-serving-rules.md §5.1).
LEVEL_PARTS = 20

# Share of the run at the end over which "still improving" measures the fall ("the last 20% of
# steps", research/peers-and-serving-rules.md §5.2).
TAIL_FRACTION = 0.2

# "Still improving" when the loss level fell by at least this share over the tail. 5% over the
# last fifth of a run is a gain a user would notice from one more epoch, and well above the level
# noise of a converged run (a median over 5% of the points).
STILL_IMPROVING_DROP = 0.05

# A level within this share of the lowest level counts as "flat". 2% sits above level noise and
# below any gain worth paying for.
PLATEAU_TOLERANCE = 0.02

# "Plateau" when the loss has been flat for at least this share of the run: half the compute
# bought (almost) nothing, so fewer epochs or a higher learning rate would have done.
PLATEAU_FRACTION = 0.5

# "Diverged" when the end level is at least this multiple of the start level: the run made the
# model more than twice as wrong on its own training data as before fine-tuning began. Any rise
# above the start (beyond PLATEAU_TOLERANCE) is a warning.
BLOWUP_RATIO = 2.0

# Overfitting follows the semantics of Hugging Face's EarlyStoppingCallback
# (transformers trainer_callback.py: an evaluation counts as an improvement only if it beats the
# best by more than early_stopping_threshold; early_stopping_patience evaluations without one stop
# training). The last OVERFIT_PATIENCE evaluations must all sit more than OVERFIT_MIN_RISE above
# the lowest validation loss while the training loss kept falling. The 5% threshold keeps the
# wobble of a converged run's evaluations from counting; a patience of 2 ignores one unlucky eval.
OVERFIT_MIN_RISE = 0.05
OVERFIT_PATIENCE = 2

# A spike is a training loss above the smoothed level of the points before it by more than
# SPIKE_MADS robust standard deviations (1.4826 x the median absolute deviation of these relative
# jumps) and by at least SPIKE_MIN_RISE. The research note proposes 4 MAD (§5.3); 4 raw MAD is
# about 2.7 standard deviations, which flags one point in ~300 of pure noise, too many for runs
# that log 100,000 steps, so we use 6 scaled MAD (one false alarm in ~10^9 points of Gaussian
# noise). The 25% floor keeps nearly noise-free synthetic curves from reporting ripples.
SPIKE_MADS = 6.0
SPIKE_MIN_RISE = 0.25
MAD_TO_SIGMA = 1.4826

# Step-to-step noise is measured over windows of at least this many points (up to LEVEL_PARTS
# windows): enough that one spike cannot inflate the median absolute deviation of its own window.
SPIKE_NOISE_WINDOW = 20

# The spike check lists at most this many steps (the count is always complete).
LISTED_SPIKES = 10
