"""Mutation fuzzing: whatever the text, the engine answers or raises SqlError, never anything else."""

import random

from tests.tracking.sql.conftest import LoadedProject
from tests.tracking.sql.examples import COMPLETE, fragment_statements
from tests.tracking.sql.queries import CASES
from tests.tracking.sql.test_attacks import ATTACKS
from tracking.sql.engine import sql_execute
from tracking.sql.errors import SqlError
from tracking.sql.ir import DatasetRef, ShowStatement
from tracking.sql.translate import AnalyticsEngineDialect, sql_parse, sql_translate

DATASETS = [
    DatasetRef(id=1, name="meauxcloud_analytics", labels={"blob2": "path", "double1": "duration_ms"}),
    DatasetRef(
        id=2, name="weather", labels={"blob1": "city", "double1": "temp", "double2": "humidity", "blob4": "unit"}
    ),
]
SEEDS = (
    [case.sql for case in CASES]
    + [example.sql for example in COMPLETE + fragment_statements()]
    + [sql for sql in ATTACKS.values() if len(sql) < 2_000]
)


def _token_text(token: object) -> str:
    if token.token_type.name == "STRING":
        return "'" + token.text.replace("'", "''") + "'"
    return token.text


def mutations(count: int, *, seed: int) -> list[str]:
    """Token-level deletions, insertions, replacements and swaps of real queries."""
    rng = random.Random(seed)
    tokenized = [[_token_text(t) for t in AnalyticsEngineDialect().tokenize(sql)] for sql in SEEDS]
    pool = [text for tokens in tokenized for text in tokens]
    result = []
    for _ in range(count):
        tokens = list(rng.choice(tokenized))
        for _ in range(rng.randint(1, 3)):
            if not tokens:
                break
            index = rng.randrange(len(tokens))
            roll = rng.random()
            if roll < 0.3:
                del tokens[index]
            elif roll < 0.6:
                tokens.insert(index, rng.choice(pool))
            elif roll < 0.8:
                tokens[index] = rng.choice(pool)
            else:
                tokens[index], tokens[-1 - index] = tokens[-1 - index], tokens[index]
        result.append(" ".join(tokens))
    return result


def test_translator_raises_only_sql_errors_on_mutated_queries() -> None:
    outcomes = {"translated": 0, "refused": 0}
    for sql in mutations(4_000, seed=20261128):
        try:
            statement = sql_parse(sql=sql)
            if not isinstance(statement, ShowStatement):
                sql_translate(statement=statement, datasets=DATASETS)
            outcomes["translated"] += 1
        except SqlError:
            outcomes["refused"] += 1
    assert outcomes["translated"] + outcomes["refused"] == 4_000
    assert outcomes["translated"] >= 100


def test_execution_raises_only_sql_errors_on_mutated_queries(loaded: LoadedProject) -> None:
    executed = 0
    for sql in mutations(300, seed=7):
        try:
            sql_execute(project=loaded.project, sql=sql)
            executed += 1
        except SqlError:
            pass
    assert executed >= 10
