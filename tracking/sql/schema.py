"""DDL of the SQL API sandbox: the ``meaux_ch`` helper schema, the query role and its RLS policy.

PostgreSQL lacks several ClickHouse functions with exact semantics (weighted quantiles,
topK, formatDateTime's % codes, 1-based negative substrings, integer-width bit
arithmetic). They live here as plain SQL/PL/pgSQL functions so the translator can emit
one call instead of long inline expressions, and so the restricted role can be granted
EXECUTE on exactly this schema.
"""

SCHEMA = "meaux_ch"
ROLE = "meaux_sql_reader"
DATASET_IDS_SETTING = "meaux_sql.dataset_ids"
AGGREGATE_INPUT_SQLSTATE = "MXA01"

HELPER_FUNCTIONS_SQL = r"""
CREATE SCHEMA IF NOT EXISTS meaux_ch;

CREATE OR REPLACE FUNCTION meaux_ch.div(a double precision, b double precision) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN b = 0 THEN
    CASE WHEN a > 0 THEN 'Infinity'::float8 WHEN a < 0 THEN '-Infinity'::float8 ELSE 'NaN'::float8 END
  ELSE a / b END
$$;

CREATE OR REPLACE FUNCTION meaux_ch.fmod(a double precision, b double precision) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN b = 0 THEN 'NaN'::float8 ELSE a - b * trunc(a / b) END
$$;

CREATE OR REPLACE FUNCTION meaux_ch.wrap(v numeric, bits integer, signed boolean) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN bits >= 64 AND signed THEN
      (CASE WHEN r >= 9223372036854775808 THEN r - 18446744073709551616 ELSE r END)::bigint
    WHEN bits >= 64 THEN
      (CASE WHEN r >= 9223372036854775808 THEN r - 18446744073709551616 ELSE r END)::bigint
    WHEN signed AND r >= m / 2 THEN (r - m)::bigint
    ELSE r::bigint END
  FROM (SELECT m, mod(mod(trunc(v), m) + m, m) AS r
        FROM (SELECT power(2::numeric, LEAST(bits, 64)) AS m) a) b
$$;

CREATE OR REPLACE FUNCTION meaux_ch.to_unsigned(v bigint, bits integer) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT mod(mod(v::numeric, power(2::numeric, bits)) + power(2::numeric, bits), power(2::numeric, bits))
$$;

CREATE OR REPLACE FUNCTION meaux_ch.shift_left(v bigint, n bigint, bits integer, signed boolean) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN n >= bits OR n < 0 THEN 0::bigint
    ELSE meaux_ch.wrap(v::numeric * power(2::numeric, n), bits, signed) END
$$;

CREATE OR REPLACE FUNCTION meaux_ch.shift_right(v bigint, n bigint, bits integer) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN n >= bits OR n < 0 THEN (CASE WHEN v < 0 THEN -1 ELSE 0 END)::bigint
    ELSE floor(v::numeric / power(2::numeric, n))::bigint END
$$;

CREATE OR REPLACE FUNCTION meaux_ch.rotate_left(v bigint, n bigint, bits integer, signed boolean) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT meaux_ch.wrap(
    mod(u * power(2::numeric, k), power(2::numeric, bits)) + floor(u / power(2::numeric, bits - k)),
    bits, signed)
  FROM (SELECT meaux_ch.to_unsigned(v, bits) AS u, mod(mod(n, bits) + bits, bits) AS k) s
$$;

CREATE OR REPLACE FUNCTION meaux_ch.bit_count_int(v bigint, bits integer) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT bit_count(meaux_ch.wrap(meaux_ch.to_unsigned(v, bits), 64, true)::bit(64))
$$;

CREATE OR REPLACE FUNCTION meaux_ch.hex_int(v bigint, bytes integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT upper(CASE WHEN v < 0 THEN right(to_hex(v), 2 * bytes)
    ELSE lpad(to_hex(v), length(to_hex(v)) + length(to_hex(v)) % 2, '0') END)
$$;

CREATE OR REPLACE FUNCTION meaux_ch.hex_float(v double precision) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT upper(string_agg(substr(h, i, 2), '' ORDER BY i DESC))
  FROM (SELECT encode(float8send(v), 'hex') AS h) s, generate_series(1, 15, 2) AS i
$$;

CREATE OR REPLACE FUNCTION meaux_ch.hex_to_bin(h text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(string_agg(
    lpad(((('x' || lpad(substr(h, i, 1), 8, '0'))::bit(32))::int)::bit(4)::text, 4, '0'), '' ORDER BY i), '')
  FROM generate_series(1, length(h)) AS i
$$;

CREATE OR REPLACE FUNCTION meaux_ch.substring(s text, off bigint, len bigint) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  n bigint := char_length(s);
  start_pos bigint;
  stop_pos bigint;
BEGIN
  IF off = 0 THEN
    RETURN '';
  END IF;
  start_pos := CASE WHEN off > 0 THEN off ELSE n + off + 1 END;
  stop_pos := CASE WHEN len IS NULL THEN n + 1
                   WHEN len >= 0 THEN start_pos + len
                   ELSE n + len + 1 END;
  IF start_pos < 1 THEN
    start_pos := 1;
  END IF;
  IF stop_pos > n + 1 THEN
    stop_pos := n + 1;
  END IF;
  IF stop_pos <= start_pos THEN
    RETURN '';
  END IF;
  RETURN substr(s, start_pos::int, (stop_pos - start_pos)::int);
END
$$;

CREATE OR REPLACE FUNCTION meaux_ch.format(fmt text, args text[]) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  out text := '';
  i int := 1;
  n int := length(fmt);
  c text;
  next_arg int := 1;
  j int;
  idx text;
BEGIN
  WHILE i <= n LOOP
    c := substr(fmt, i, 1);
    IF c = '{' AND substr(fmt, i + 1, 1) = '{' THEN
      out := out || '{';
      i := i + 2;
    ELSIF c = '}' AND substr(fmt, i + 1, 1) = '}' THEN
      out := out || '}';
      i := i + 2;
    ELSIF c = '{' THEN
      j := strpos(substr(fmt, i), '}');
      IF j = 0 THEN
        RAISE EXCEPTION 'format: unclosed {' USING ERRCODE = '22023';
      END IF;
      idx := substr(fmt, i + 1, j - 2);
      IF idx = '' THEN
        IF next_arg > coalesce(array_length(args, 1), 0) THEN
          RAISE EXCEPTION 'format: not enough arguments' USING ERRCODE = '22023';
        END IF;
        out := out || args[next_arg];
        next_arg := next_arg + 1;
      ELSIF idx ~ '^[0-9]+$' AND idx::int < coalesce(array_length(args, 1), 0) THEN
        out := out || args[idx::int + 1];
      ELSE
        RAISE EXCEPTION 'format: bad placeholder' USING ERRCODE = '22023';
      END IF;
      i := i + j;
    ELSE
      out := out || c;
      i := i + 1;
    END IF;
  END LOOP;
  RETURN out;
END
$$;

CREATE OR REPLACE FUNCTION meaux_ch.format_datetime(ts timestamptz, fmt text, tz text) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
  lt timestamp := ts AT TIME ZONE tz;
  out text := '';
  i int := 1;
  n int := length(fmt);
  c text;
  off interval;
BEGIN
  WHILE i <= n LOOP
    c := substr(fmt, i, 1);
    IF c <> '%' OR i = n THEN
      out := out || c;
      i := i + 1;
      CONTINUE;
    END IF;
    c := substr(fmt, i + 1, 1);
    i := i + 2;
    out := out || CASE c
      WHEN 'a' THEN to_char(lt, 'Dy')
      WHEN 'b' THEN to_char(lt, 'Mon')
      WHEN 'c' THEN to_char(lt, 'MM')
      WHEN 'C' THEN lpad((extract(year FROM lt)::int / 100)::text, 2, '0')
      WHEN 'd' THEN to_char(lt, 'DD')
      WHEN 'D' THEN to_char(lt, 'MM/DD/YY')
      WHEN 'e' THEN to_char(lt, 'FMDD')
      WHEN 'F' THEN to_char(lt, 'YYYY-MM-DD')
      WHEN 'G' THEN to_char(lt, 'IYYY')
      WHEN 'g' THEN to_char(lt, 'IY')
      WHEN 'h' THEN to_char(lt, 'HH12')
      WHEN 'H' THEN to_char(lt, 'HH24')
      WHEN 'i' THEN to_char(lt, 'MI')
      WHEN 'I' THEN to_char(lt, 'HH12')
      WHEN 'j' THEN to_char(lt, 'DDD')
      WHEN 'k' THEN to_char(lt, 'HH24')
      WHEN 'l' THEN to_char(lt, 'HH12')
      WHEN 'm' THEN to_char(lt, 'MM')
      WHEN 'M' THEN to_char(lt, 'FMMonth')
      WHEN 'n' THEN E'\n'
      WHEN 'p' THEN to_char(lt, 'AM')
      WHEN 'Q' THEN to_char(lt, 'Q')
      WHEN 'r' THEN to_char(lt, 'HH12:MI AM')
      WHEN 'R' THEN to_char(lt, 'HH24:MI')
      WHEN 's' THEN to_char(lt, 'SS')
      WHEN 'S' THEN to_char(lt, 'SS')
      WHEN 't' THEN E'\t'
      WHEN 'T' THEN to_char(lt, 'HH24:MI:SS')
      WHEN 'u' THEN to_char(lt, 'ID')
      WHEN 'V' THEN to_char(lt, 'IW')
      WHEN 'w' THEN (extract(dow FROM lt)::int)::text
      WHEN 'W' THEN to_char(lt, 'FMDay')
      WHEN 'y' THEN to_char(lt, 'YY')
      WHEN 'Y' THEN to_char(lt, 'YYYY')
      WHEN 'f' THEN '000000'
      WHEN '%' THEN '%'
      ELSE '' END;
    IF c = 'z' THEN
      off := lt - (ts AT TIME ZONE 'UTC');
      out := out || CASE WHEN off < interval '0' THEN '-' ELSE '+' END
        || to_char(abs(extract(epoch FROM off))::int / 3600, 'FM00')
        || to_char((abs(extract(epoch FROM off))::int % 3600) / 60, 'FM00');
    ELSIF c NOT IN ('a','b','c','C','d','D','e','F','G','g','h','H','i','I','j','k','l','m','M','n','p','Q',
                    'r','R','s','S','t','T','u','V','w','W','y','Y','f','%') THEN
      RAISE EXCEPTION 'formatDateTime: unsupported format code %%%', c USING ERRCODE = '22023';
    END IF;
  END LOOP;
  RETURN out;
END
$$;

CREATE OR REPLACE FUNCTION meaux_ch.to_datetime(s text, tz text) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN s ~ '^[0-9]{1,10}$' THEN to_timestamp(s::bigint)
              ELSE (s::timestamp) AT TIME ZONE tz END
$$;

CREATE OR REPLACE FUNCTION meaux_ch.start_of_interval_date(d date, n bigint, unit text) RETURNS date
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  months bigint;
  weeks bigint;
BEGIN
  IF n < 1 THEN
    RAISE EXCEPTION 'toStartOfInterval: the interval must be positive' USING ERRCODE = '22023';
  END IF;
  IF unit = 'DAY' THEN
    RETURN date '1970-01-01' + (floor((d - date '1970-01-01')::numeric / n) * n)::int;
  ELSIF unit = 'WEEK' THEN
    weeks := 7 * n;
    RETURN date '1970-01-01' + (4 + floor((d - date '1970-01-01' - 4)::numeric / weeks) * weeks)::int;
  ELSIF unit = 'YEAR' THEN
    RETURN make_date((floor(extract(year FROM d)::numeric / n) * n)::int, 1, 1);
  ELSIF unit IN ('MONTH', 'QUARTER') THEN
    n := n * CASE unit WHEN 'MONTH' THEN 1 ELSE 3 END;
    months := (extract(year FROM d)::bigint - 1970) * 12 + extract(month FROM d)::bigint - 1;
    months := floor(months::numeric / n) * n;
    RETURN make_date(1970 + (months / 12)::int - CASE WHEN months < 0 AND months % 12 <> 0 THEN 1 ELSE 0 END,
                     (((months % 12) + 12) % 12)::int + 1, 1);
  END IF;
  RAISE EXCEPTION 'toStartOfInterval: unsupported unit %', unit USING ERRCODE = '22023';
END
$$;

CREATE OR REPLACE FUNCTION meaux_ch.quantile_exact_weighted(q double precision, vals anyarray, weights double precision[])
RETURNS anyelement LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT v FROM (
    SELECT v, sum(w) OVER (ORDER BY v ROWS UNBOUNDED PRECEDING) AS acc,
           sum(w) OVER () AS total, row_number() OVER (ORDER BY v DESC) AS rn_desc
    FROM unnest(vals, weights) AS u(v, w) WHERE v IS NOT NULL
  ) s
  WHERE acc >= ceil(total * q) OR rn_desc = 1
  ORDER BY v LIMIT 1
$$;

CREATE OR REPLACE FUNCTION meaux_ch.top_k(vals anyarray, weights double precision[], k bigint)
RETURNS anyarray LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(v ORDER BY total DESC, first_pos), vals[1:0]) FROM (
    SELECT v, sum(coalesce(w, 1)) AS total, min(pos) AS first_pos
    FROM unnest(vals, weights) WITH ORDINALITY AS u(v, w, pos)
    WHERE v IS NOT NULL
    GROUP BY v ORDER BY total DESC, first_pos LIMIT k
  ) s
$$;
"""

BOUNDED_AGGREGATES_SQL = r"""
CREATE OR REPLACE FUNCTION meaux_ch.keep_first(kept anyelement, value anyelement) RETURNS anyelement
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$ BEGIN RETURN kept; END $$;

CREATE OR REPLACE FUNCTION meaux_ch.keep_last(kept anyelement, value anyelement) RETURNS anyelement
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$ BEGIN RETURN value; END $$;

CREATE OR REPLACE AGGREGATE meaux_ch.first_of(anyelement) (SFUNC = meaux_ch.keep_first, STYPE = anyelement);
CREATE OR REPLACE AGGREGATE meaux_ch.last_of(anyelement) (SFUNC = meaux_ch.keep_last, STYPE = anyelement);

CREATE OR REPLACE FUNCTION meaux_ch.aggregate_input_check(accounted bigint, budget bigint) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  IF coalesce(accounted, 0) > budget THEN
    RAISE EXCEPTION 'values fed to array-state aggregates exceed % bytes', budget USING ERRCODE = 'MXA01';
  END IF;
  RETURN true;
END
$$;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA meaux_ch TO meaux_sql_reader;
"""
"""O(1)-state replacements of ``(array_agg(x ORDER BY ...))[1]`` and the input gate of the
aggregates whose state is every value they read (docs/sql.md, "Bounded memory").

``first_of``/``last_of`` keep one value: their strict transition skips NULLs as ClickHouse's
``any`` does, and with ``ORDER BY`` the sort is PostgreSQL's, which spills past ``work_mem``.
``aggregate_input_check`` runs once per query, as the InitPlan the compiler puts in front of
topK/groupArray/quantileExactWeighted (tracking.sql.compiler.Compiler.aggregate_gate).
"""

BOUNDED_AGGREGATES_REVERSE_SQL = r"""
DROP AGGREGATE IF EXISTS meaux_ch.first_of(anyelement);
DROP AGGREGATE IF EXISTS meaux_ch.last_of(anyelement);
DROP FUNCTION IF EXISTS meaux_ch.keep_first(anyelement, anyelement);
DROP FUNCTION IF EXISTS meaux_ch.keep_last(anyelement, anyelement);
DROP FUNCTION IF EXISTS meaux_ch.aggregate_input_check(bigint, bigint);
"""

POLICY_SQL = r"""
DROP POLICY IF EXISTS meaux_sql_project_datasets ON tracking_datapoint;
CREATE POLICY meaux_sql_project_datasets ON tracking_datapoint FOR SELECT TO meaux_sql_reader
  USING (dataset_id = ANY (ARRAY(SELECT unnest(string_to_array(
    coalesce(nullif(current_setting('meaux_sql.dataset_ids', true), ''), '0'), ','))::bigint)));
"""
"""The RLS backstop: the sandbox role sees only the datasets listed in a transaction-local setting.

``ARRAY(SELECT ...)`` makes PostgreSQL parse the setting once per query (an InitPlan) instead
of once per row scanned (docs/benchmarks.md measured 7.9 s → 3.4 s on a 30-day scan at 10M).
"""

ROLE_SQL = (
    r"""
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'meaux_sql_reader') THEN
    CREATE ROLE meaux_sql_reader NOLOGIN NOINHERIT NOBYPASSRLS;
  END IF;
END
$$;
GRANT meaux_sql_reader TO CURRENT_USER;
GRANT USAGE ON SCHEMA meaux_ch TO meaux_sql_reader;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA meaux_ch TO meaux_sql_reader;
GRANT USAGE ON SCHEMA public TO meaux_sql_reader;
GRANT SELECT ON tracking_datapoint TO meaux_sql_reader;
ALTER TABLE tracking_datapoint ENABLE ROW LEVEL SECURITY;
"""
    + POLICY_SQL
    + r"""
DO $$
BEGIN
  ALTER ROLE meaux_sql_reader SET temp_file_limit = '1GB';
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'temp_file_limit for meaux_sql_reader needs a superuser; skipped';
END
$$;
"""
)

ROLE_REVERSE_SQL = r"""
DROP POLICY IF EXISTS meaux_sql_project_datasets ON tracking_datapoint;
ALTER TABLE tracking_datapoint DISABLE ROW LEVEL SECURITY;
REVOKE SELECT ON tracking_datapoint FROM meaux_sql_reader;
DROP SCHEMA IF EXISTS meaux_ch CASCADE;
"""

CATALOG_CHANGED_SQLSTATE = "MXC01"

CATALOG_CHECK_SQL = r"""
CREATE OR REPLACE FUNCTION public.meaux_sql_catalog_fingerprint(project bigint) RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN (
    SELECT encode(sha256(convert_to(coalesce(string_agg(
      ROW(d.id, d.name, d.labels, p.id, p.grain, p.dimensions, p.doubles, p.name)::text, ',' ORDER BY d.id, p.id), ''), 'UTF8')), 'hex')
    FROM public.tracking_dataset d
    LEFT JOIN public.tracking_projection p ON p.dataset_id = d.id AND p.state = 'ready'
    WHERE d.project_id = project
  );
END
$$;

CREATE OR REPLACE FUNCTION public.meaux_sql_catalog_check(project bigint, fingerprint text, clock timestamptz) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF transaction_timestamp() < clock OR public.meaux_sql_catalog_fingerprint(project) IS DISTINCT FROM fingerprint THEN
    RAISE EXCEPTION 'the catalog of project % changed since it was read', project USING ERRCODE = 'MXC01';
  END IF;
END
$$;

REVOKE EXECUTE ON FUNCTION public.meaux_sql_catalog_fingerprint(bigint) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION public.meaux_sql_catalog_check(bigint, text, timestamptz) FROM PUBLIC;
"""
"""A cached catalog is checked in the query's own message instead of read again (``engine``).

The fingerprint changes with anything ``db.sql_catalog`` returns (datasets with their labels
and ready projections), so any change to it refuses the cached copy: first a hash of those rows,
now the catalog's version (``CATALOG_VERSION_SQL``). PL/pgSQL keeps its query's
plan for the session, where a SQL function's body was planned at every call (0.11 against
0.045 ms a check with pgbench, `SELECT 1` taking 0.018). The clock refuses a
cached estimate of ``NOW()`` that is later than the query's transaction (``translate.time_floor``
must not exceed it). Both run as the application's role, before the sandbox takes the
reader's, which may not call them.
"""

CATALOG_CHECK_REVERSE_SQL = r"""
DROP FUNCTION IF EXISTS public.meaux_sql_catalog_check(bigint, text, timestamptz);
DROP FUNCTION IF EXISTS public.meaux_sql_catalog_fingerprint(bigint);
"""

POOL_BUSY_SQLSTATE = "MXS01"
PROJECT_BUSY_SQLSTATE = "MXS02"

SLOTS_TAKE_SQL = r"""
CREATE OR REPLACE FUNCTION public.meaux_sql_slots_take(project_first bigint, project_slots integer, pool_first bigint,
                                                     pool_slots integer) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  IF project_first IS NOT NULL AND NOT EXISTS (
    SELECT FROM generate_series(project_first, project_first + project_slots - 1) AS k WHERE pg_try_advisory_xact_lock(k)
  ) THEN
    RAISE EXCEPTION 'every query slot of the project is taken' USING ERRCODE = 'MXS02';
  END IF;
  IF NOT EXISTS (
    SELECT FROM generate_series(pool_first, pool_first + pool_slots - 1) AS k WHERE pg_try_advisory_xact_lock(k)
  ) THEN
    RAISE EXCEPTION 'every query slot of the installation is taken' USING ERRCODE = 'MXS01';
  END IF;
END
$$;

REVOKE EXECUTE ON FUNCTION public.meaux_sql_slots_take(bigint, integer, bigint, integer) FROM PUBLIC;
"""
"""A query's slots are transaction-scoped advisory locks its own transaction takes first (``db.sql_sandbox_run``).

Slot n of a range is the lock ``first + n``. ``EXISTS`` stops at the first free one, so a query
takes exactly one slot of each range, or none: a refusal aborts the transaction, which releases
what it took. PostgreSQL frees the locks when the transaction ends, however it ends, so a
dead web process leaves no slot taken once its connection is gone, and no round trip gives
one back; a frozen one holds its slots no longer than the sandbox's
``idle_in_transaction_session_timeout`` (``db._SETUP_SQL``). The keys are the bigint form's, in
ranges no other lock of ours uses (``tests/tracking/sql/test_pool.py`` checks them against
``tracking.db``'s statistics locks and the partition lock; the drain's and the deletion jobs'
are two-integer keys, another space): ``tracking.sql.pool`` and ``projects.governance.quotas``
lay them out.
"""

SLOTS_TAKE_REVERSE_SQL = r"""
DROP FUNCTION IF EXISTS public.meaux_sql_slots_take(bigint, integer, bigint, integer);
"""

CATALOG_VERSION_SQL = r"""
CREATE SEQUENCE public.tracking_sql_catalog_version_seq;
-- Versions start from this moment in microseconds: a migration reversed and applied again never
-- hands out a version a process may still hold.
SELECT setval('public.tracking_sql_catalog_version_seq', (extract(epoch FROM clock_timestamp()) * 1000000)::bigint);

CREATE TABLE public.tracking_sql_catalog_version (
    project_id bigint PRIMARY KEY,
    version bigint NOT NULL
);

INSERT INTO public.tracking_sql_catalog_version (project_id, version)
SELECT project_id, nextval('public.tracking_sql_catalog_version_seq')
FROM (SELECT DISTINCT project_id FROM public.tracking_dataset ORDER BY project_id) AS d;

CREATE FUNCTION public.meaux_sql_catalog_bump() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  projects bigint[] := '{}';
BEGIN
  IF TG_TABLE_NAME = 'tracking_dataset' THEN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN projects := projects || NEW.project_id; END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN projects := projects || OLD.project_id; END IF;
  ELSE
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
      projects := projects || (SELECT d.project_id FROM public.tracking_dataset d WHERE d.id = NEW.dataset_id);
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
      projects := projects || (SELECT d.project_id FROM public.tracking_dataset d WHERE d.id = OLD.dataset_id);
    END IF;
  END IF;
  INSERT INTO public.tracking_sql_catalog_version AS v (project_id, version)
  SELECT p, nextval('public.tracking_sql_catalog_version_seq')
  FROM (SELECT DISTINCT p FROM unnest(projects) AS p WHERE p IS NOT NULL ORDER BY p) AS changed
  ON CONFLICT (project_id) DO UPDATE SET version = EXCLUDED.version;
  RETURN NULL;
END
$$;

CREATE FUNCTION public.meaux_sql_catalog_bump_all() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE public.tracking_sql_catalog_version SET version = nextval('public.tracking_sql_catalog_version_seq');
  RETURN NULL;
END
$$;

-- Deferred: the bump, and the lock on the project's version row, come at commit, so a long
-- transaction that changed a dataset (a relabel's rollup rebuild) does not hold up the project's
-- other catalog changes (ingest creating a dataset) until it ends.
CREATE CONSTRAINT TRIGGER meaux_sql_catalog_written AFTER INSERT OR DELETE ON public.tracking_dataset
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.meaux_sql_catalog_bump();
CREATE CONSTRAINT TRIGGER meaux_sql_catalog_changed AFTER UPDATE OF project_id, name, labels ON public.tracking_dataset
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW WHEN (OLD.project_id IS DISTINCT FROM NEW.project_id OR OLD.name IS DISTINCT FROM NEW.name
                   OR OLD.labels IS DISTINCT FROM NEW.labels)
EXECUTE FUNCTION public.meaux_sql_catalog_bump();
CREATE TRIGGER meaux_sql_catalog_truncated AFTER TRUNCATE ON public.tracking_dataset
FOR EACH STATEMENT EXECUTE FUNCTION public.meaux_sql_catalog_bump_all();

-- The catalog lists ready projections only ('ready' is ProjectionState.READY).
CREATE CONSTRAINT TRIGGER meaux_sql_catalog_inserted AFTER INSERT ON public.tracking_projection
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW WHEN (NEW.state = 'ready') EXECUTE FUNCTION public.meaux_sql_catalog_bump();
CREATE CONSTRAINT TRIGGER meaux_sql_catalog_deleted AFTER DELETE ON public.tracking_projection
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW WHEN (OLD.state = 'ready') EXECUTE FUNCTION public.meaux_sql_catalog_bump();
CREATE CONSTRAINT TRIGGER meaux_sql_catalog_changed AFTER UPDATE OF dataset_id, name, dimensions, doubles, grain, state
ON public.tracking_projection
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW WHEN ((OLD.state = 'ready' OR NEW.state = 'ready') AND (
                   OLD.dataset_id IS DISTINCT FROM NEW.dataset_id OR OLD.name IS DISTINCT FROM NEW.name
                   OR OLD.dimensions IS DISTINCT FROM NEW.dimensions OR OLD.doubles IS DISTINCT FROM NEW.doubles
                   OR OLD.grain IS DISTINCT FROM NEW.grain OR OLD.state IS DISTINCT FROM NEW.state))
EXECUTE FUNCTION public.meaux_sql_catalog_bump();
CREATE TRIGGER meaux_sql_catalog_truncated AFTER TRUNCATE ON public.tracking_projection
FOR EACH STATEMENT EXECUTE FUNCTION public.meaux_sql_catalog_bump_all();

CREATE OR REPLACE FUNCTION public.meaux_sql_catalog_fingerprint(project bigint) RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN coalesce((SELECT v.version FROM public.tracking_sql_catalog_version v WHERE v.project_id = project), 0)::text;
END
$$;
"""
"""A project's catalog fingerprint is a version number its changes bump, not a hash of its rows.

The hash covered the project's datasets and ready projections, so every query paid for it in
proportion to the catalog: 0.15 ms over `SELECT 1` for the bench's 10 datasets and 30
projections, about 1.2 ms for 200 datasets with three projections each; the version is one index
probe whatever the catalog's size. Triggers bump it when a transaction that inserted, deleted or
changed a dataset, or a ready projection, in a column ``db.sql_catalog`` reads commits (a
projection's backfill, until it is ready, and a dataset's last write bump nothing), so the
version a statement reads describes the rows the same statement reads. Until then the
transaction's own queries would find the version unchanged: the engine reads the catalog afresh
and compiles anew inside a caller's transaction (``engine.sql_execute``). Versions come from one
sequence and are never handed out twice; a TRUNCATE, which fires no row trigger, bumps every
version. A project whose catalog did not change since this migration, and that had no dataset
then, has version 0.
"""

CATALOG_VERSION_REVERSE_SQL = r"""
DROP TRIGGER IF EXISTS meaux_sql_catalog_written ON public.tracking_dataset;
DROP TRIGGER IF EXISTS meaux_sql_catalog_changed ON public.tracking_dataset;
DROP TRIGGER IF EXISTS meaux_sql_catalog_truncated ON public.tracking_dataset;
DROP TRIGGER IF EXISTS meaux_sql_catalog_inserted ON public.tracking_projection;
DROP TRIGGER IF EXISTS meaux_sql_catalog_deleted ON public.tracking_projection;
DROP TRIGGER IF EXISTS meaux_sql_catalog_changed ON public.tracking_projection;
DROP TRIGGER IF EXISTS meaux_sql_catalog_truncated ON public.tracking_projection;
DROP FUNCTION IF EXISTS public.meaux_sql_catalog_bump();
DROP FUNCTION IF EXISTS public.meaux_sql_catalog_bump_all();
DROP TABLE IF EXISTS public.tracking_sql_catalog_version;
DROP SEQUENCE IF EXISTS public.tracking_sql_catalog_version_seq;
""" + CATALOG_CHECK_SQL

CATALOG_MEASURED_SQL = r"""
CREATE CONSTRAINT TRIGGER meaux_sql_catalog_measured AFTER UPDATE OF bucket_rows ON public.tracking_projection
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW WHEN (NEW.state = 'ready' AND OLD.bucket_rows IS DISTINCT FROM NEW.bucket_rows)
EXECUTE FUNCTION public.meaux_sql_catalog_bump();
"""
"""A ready projection's measured rows per bucket is in the catalog (``db.sql_catalog``), and the planner sizes its
cuts from it (``planner.cut_reach``), so a new measure bumps the version like any other catalog change: the
translations a process keeps are keyed by the version, and are made again with the new reach."""

CATALOG_MEASURED_REVERSE_SQL = r"""
DROP TRIGGER IF EXISTS meaux_sql_catalog_measured ON public.tracking_projection;
"""

CATALOG_MEASURED_POINTS_SQL = r"""
DROP TRIGGER IF EXISTS meaux_sql_catalog_measured ON public.tracking_projection;
CREATE CONSTRAINT TRIGGER meaux_sql_catalog_measured AFTER UPDATE OF bucket_rows, bucket_points ON public.tracking_projection
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW WHEN (NEW.state = 'ready' AND (OLD.bucket_rows IS DISTINCT FROM NEW.bucket_rows
                                            OR OLD.bucket_points IS DISTINCT FROM NEW.bucket_points))
EXECUTE FUNCTION public.meaux_sql_catalog_bump();
"""
"""The points a bucket stands for size the raw cut (``planner.raw_cut_reach``) as the rows size the coarse one, so
either measure changing bumps the catalog version (``CATALOG_MEASURED_SQL`` watched the rows alone)."""

CATALOG_MEASURED_POINTS_REVERSE_SQL = CATALOG_MEASURED_REVERSE_SQL + CATALOG_MEASURED_SQL

PINS_MISSED_SQLSTATE = "MXC02"

PINS_CHECK_SQL = r"""
CREATE OR REPLACE FUNCTION public.meaux_sql_pins_check(held boolean) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF held IS NOT TRUE THEN
    RAISE EXCEPTION 'the edges of the query''s window moved past its pinned values' USING ERRCODE = 'MXC02';
  END IF;
END
$$;

REVOKE EXECUTE ON FUNCTION public.meaux_sql_pins_check(boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.meaux_sql_pins_check(boolean) TO meaux_sql_reader;
"""
"""The check a query whose projection plan takes pinned values (``ir.Pins``) sends in its message before the query:
its window's edges at its own ``NOW()`` are where the values were computed for. It runs after the sandbox's settings
(the edges are read in its zone), so as the reader role; user SQL names only the translator's functions."""

PINS_CHECK_REVERSE_SQL = r"""
DROP FUNCTION IF EXISTS public.meaux_sql_pins_check(boolean);
"""
