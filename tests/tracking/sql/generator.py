"""Random Analytics Engine queries over the weather dataset, for the generated differential test."""


NUM_COLS = ["double1", "double2", "double3", "_sample_interval", "temp", "humidity"]
STR_COLS = ["blob1", "blob2", "blob3", "blob4", "index1", "city"]
INT_LITS = ["0", "1", "2", "3", "7", "10", "255", "256", "1000", "-1", "-7"]
FLOAT_LITS = ["0.5", "1.5", "2.25", "-3.75", "100.125"]
STR_LITS = ["'Oslo'", "'o'", "''", "'sensor-1'", "'%o%'", "'probe-2'"]


def num(rng, depth=0):
    r = rng.random()
    if depth > 2 or r < 0.3:
        return rng.choice(NUM_COLS + INT_LITS + FLOAT_LITS)
    a, b = num(rng, depth + 1), num(rng, depth + 1)
    choices = [
        f"({a} + {b})",
        f"({a} - {b})",
        f"({a} * {b})",
        f"({a} / {b})",
        f"abs({a})",
        f"round({a}, {rng.choice([0, 1, 2])})",
        f"floor({a})",
        f"ceil({a}, 1)",
        f"toUInt32(abs({a}))",
        f"toInt64({a})",
        f"intDiv(toUInt32(abs({a})), {rng.choice(['3', '7', '60'])})",
        f"toUInt32(abs({a})) % {rng.choice(['3', '7', '60'])}",
        f"length({s(rng, depth + 1)})",
        f"if({cond(rng, depth + 1)}, {a}, {b})",
        "toHour(timestamp)",
        "toDayOfWeek(timestamp)",
        "toUnixTimestamp(timestamp) % 86400",
        f"position({s(rng, depth + 1)}, 'o')",
        f"pow({a}, 2)",
        f"greatest({a}, {b})",
        f"least({a}, {b})",
        f"bitAnd(toUInt8(abs({a})), 5)",
        f"bitCount(toUInt32(abs({a})))",
        f"multiIf({cond(rng, depth + 1)}, {a}, {cond(rng, depth + 1)}, {b}, 0)",
        "toYear(timestamp)",
        f"sqrt(abs({a}))",
        f"-({a})",
    ]
    return rng.choice(choices)


def s(rng, depth=0):
    r = rng.random()
    if depth > 2 or r < 0.4:
        return rng.choice(STR_COLS + STR_LITS)
    a = s(rng, depth + 1)
    choices = [
        f"lower({a})",
        f"upper({a})",
        f"substring({a}, {rng.choice([1, 2, -2])}, {rng.choice([1, 3])})",
        f"concat({a}, '-', {s(rng, depth + 1)})",
        f"format('{{}}/{{}}', {a}, {s(rng, depth + 1)})",
        f"toString(toUInt32(abs({num(rng, depth + 1)})))",
        "formatDateTime(timestamp, '%Y-%m-%d %H')",
        f"if({cond(rng, depth + 1)}, {a}, 'x')",
        f"hex({a})",
        "toString(toStartOfHour(timestamp))",
    ]
    return rng.choice(choices)


def cond(rng, depth=0):
    choices = [
        f"{num(rng, depth + 1)} > {num(rng, depth + 1)}",
        f"{num(rng, depth + 1)} <= {rng.choice(INT_LITS)}",
        f"{s(rng, depth + 1)} = {rng.choice(STR_LITS)}",
        f"{s(rng, depth + 1)} LIKE {rng.choice(STR_LITS)}",
        f"{s(rng, depth + 1)} ILIKE '%O%'",
        f"startsWith({s(rng, depth + 1)}, 's')",
        f"empty({s(rng, depth + 1)})",
        f"{num(rng, depth + 1)} BETWEEN 0 AND 50",
        f"{s(rng, depth + 1)} IN ('Oslo', 'Cairo', '')",
    ]
    c = rng.choice(choices)
    r = rng.random()
    if depth < 2 and r < 0.2:
        return f"({c} AND {cond(rng, depth + 1)})"
    if depth < 2 and r < 0.3:
        return f"NOT ({c})"
    return c


def query(rng):
    kind = rng.random()
    if kind < 0.5:
        return f"SELECT {num(rng)} AS a, {s(rng)} AS b, {cond(rng)} AS c FROM weather"
    if kind < 0.8:
        key = s(rng)
        agg = rng.choice(
            [
                f"sum({num(rng)})",
                f"avg({num(rng)})",
                f"min({num(rng)})",
                f"max({s(rng)})",
                "count()",
                f"countIf({cond(rng)})",
                f"sumIf({num(rng)}, {cond(rng)})",
                f"uniqExact({s(rng)})",
                f"quantileExactWeighted(0.5)({num(rng)}, _sample_interval)",
                f"median({num(rng)})",
            ]
        )
        return f"SELECT {key} AS k, {agg} AS v FROM weather GROUP BY k"
    return f"SELECT count() AS n FROM weather WHERE {cond(rng)}"
