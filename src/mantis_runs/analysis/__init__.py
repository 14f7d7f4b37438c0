"""The analysis wing: regression verdicts (compare), built on numpy and scipy."""
