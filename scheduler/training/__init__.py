"""Coded training: the driver (:func:`~coded.scheduler.training.train.train`), the plans that
turn one iteration into coded rounds, and the run's history."""
