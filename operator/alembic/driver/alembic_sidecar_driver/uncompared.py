"""What autogenerate does not compare, compared: the models against the schema at head.

Runs inside the `compare` request, on the connection env.py opened to the scratch database
(fenced; nothing here writes: Inspector reflection and pg_catalog SELECTs only). alembic 1.8
with SQLAlchemy 1.4 leaves these out of `revision --autogenerate`:

- server defaults, unless env.py passes `compare_server_default` (MigrationContext's
  `_user_compare_server_default` is False and `_compare_server_default` answers "same"). The
  difference is found by alembic's own comparison, run once more with that switch on;
- CHECK constraints: `autogenerate/compare.py` has no comparator for them at all;
- `Computed` columns: `_compare_computed_default` only warns "Computed default on t.c cannot
  be modified" and writes no operation;
- partial-index predicates: an index is compared by name, sorted column names and `unique`
  (`_ix_constraint_sig`); `postgresql_where` is never looked at.

`Identity` options and comments are compared by alembic 1.8 itself; they are checked here too,
so that a revision that lacks them (an `include_object` hook, an older alembic) is caught.

Each difference is data: kind, schema, table, column or name, the model's text and the
database's. The C++ side decides which ones the generated revision covers.
"""

import re

_MULTIWORD_TYPES = (
    "character varying", "double precision", "timestamp without time zone",
    "timestamp with time zone", "time without time zone", "time with time zone", "bit varying",
)
_CAST = re.compile(
    r"::(?:%s|\"?[a-z_][a-z0-9_]*\"?)(?:\(\d+(?:,\s*\d+)?\))?(?:\[\])?"
    % "|".join(re.escape(t) for t in _MULTIWORD_TYPES))


def normalize_sql(text, table=None):
    """An expression's text with what PostgreSQL adds when it stores one taken out: the CHECK
    keyword, casts it inserts (`'x'::text`), brackets, whitespace, identifier quotes, the
    table name before columns, and `= ANY (ARRAY[...])` for `IN (...)`."""
    s = (text or "").strip().lower()
    if s.startswith("check"):
        s = s[5:]
    s = s.replace(" not valid", "")
    s = _CAST.sub("", s)
    if table:
        s = re.sub(r'(?<![\w."])"?%s"?\.' % re.escape(table.lower()), "", s)
    s = re.sub(r"\s+", "", s)
    s = s.replace("=any(array[", "in(")
    return re.sub(r"[()\[\]\"]", "", s)


def _sql(element, dialect):
    if element is None:
        return None
    if isinstance(element, str):
        return element
    text = getattr(element, "text", None)
    if isinstance(text, str):
        return text
    return str(element.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def _final_name(const, dialect):
    try:
        from alembic.util import sqla_compat

        name = sqla_compat._get_constraint_final_name(const, dialect)
    except Exception:  # noqa: BLE001 - older/newer alembic: the plain name will do
        name = const.name
    if name is None or type(name).__name__ == "_NoneName":
        return None
    return str(name)


class _Comparison:
    def __init__(self, context, metadatas):
        import sqlalchemy as sa

        self.context = context
        self.metadatas = metadatas
        self.conn = context.bind
        self.dialect = context.dialect
        self.inspector = sa.inspect(self.conn)
        self.include_object = context.opts.get("include_object")
        self.out = []

    def add(self, kind, table, schema, column="", name="", model=None, database=None):
        self.out.append({"kind": kind, "schema": schema or "", "table": table,
                         "column": column or "", "name": name or "",
                         "model": "" if model is None else str(model),
                         "database": "" if database is None else str(database)})

    def tables(self):
        """(model table, reflected columns by name) of every model table that exists now."""
        existing = {}
        for md in self.metadatas:
            for table in md.tables.values():
                schema = table.schema
                if schema not in existing:
                    existing[schema] = set(self.inspector.get_table_names(schema=schema))
                if table.name not in existing[schema]:
                    continue  # a new table: its CREATE TABLE carries everything
                if self.include_object is not None and not self.include_object(
                        table, table.name, "table", False, None):
                    continue
                yield table

    # ---- server defaults ---------------------------------------------------------------

    def server_defaults(self, metadata_arg):
        """alembic's own server-default comparison, switched on for one produce_migrations."""
        from alembic.autogenerate import produce_migrations
        from alembic.operations import ops

        if not hasattr(self.context, "_user_compare_server_default"):
            return False
        saved = self.context._user_compare_server_default
        self.context._user_compare_server_default = True
        try:
            migration = produce_migrations(self.context, metadata_arg)
        finally:
            self.context._user_compare_server_default = saved

        def walk(items):
            for op in items:
                if isinstance(op, ops.ModifyTableOps):
                    yield from walk(op.ops)
                elif isinstance(op, ops.AlterColumnOp) and op.modify_server_default is not False:
                    yield op

        from alembic.util import sqla_compat

        for op in walk(migration.upgrade_ops.ops):
            new, old = op.modify_server_default, op.existing_server_default
            if sqla_compat._server_default_is_computed(new, old) or \
                    sqla_compat._server_default_is_identity(new, old):
                continue  # compared below (Computed) or by alembic itself (Identity)
            self.add("server_default", op.table_name, op.schema, column=op.column_name,
                     model=_sql(getattr(new, "arg", new), self.dialect),
                     database=_sql(getattr(old, "arg", old), self.dialect))
        return True

    # ---- columns: Computed, Identity, comments -------------------------------------------

    def columns(self, table):
        import sqlalchemy as sa

        reflected = {c["name"]: c for c in self.inspector.get_columns(table.name,
                                                                     schema=table.schema)}
        for column in table.columns:
            db = reflected.get(column.name)
            if db is None:
                continue  # a new column: add_column carries it
            default = column.server_default
            model_computed = _sql(default.sqltext, self.dialect) \
                if isinstance(default, sa.Computed) else None
            db_computed = (db.get("computed") or {}).get("sqltext")
            if (model_computed is None) != (db_computed is None) or (
                    model_computed is not None and normalize_sql(model_computed, table.name)
                    != normalize_sql(db_computed, table.name)):
                self.add("computed", table.name, table.schema, column=column.name,
                         model=model_computed, database=db_computed)
            identity = getattr(sa, "Identity", None)
            model_identity = isinstance(default, identity) if identity else False
            db_identity = db.get("identity")
            if model_identity != bool(db_identity) or (
                    model_identity and bool(default.always) != bool(db_identity.get("always"))):
                self.add("identity", table.name, table.schema, column=column.name,
                         model=("ALWAYS" if default.always else "BY DEFAULT")
                         if model_identity else None,
                         database=("ALWAYS" if db_identity.get("always") else "BY DEFAULT")
                         if db_identity else None)
            if self.dialect.supports_comments and (column.comment or None) != (
                    db.get("comment") or None):
                self.add("comment", table.name, table.schema, column=column.name,
                         model=column.comment, database=db.get("comment"))
        if self.dialect.supports_comments:
            db_comment = self.inspector.get_table_comment(table.name, schema=table.schema)
            if (table.comment or None) != (db_comment.get("text") or None):
                self.add("comment", table.name, table.schema, model=table.comment,
                         database=db_comment.get("text"))

    # ---- CHECK constraints ---------------------------------------------------------------

    def checks(self, table):
        import sqlalchemy as sa

        rows = self.conn.execute(sa.text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = to_regclass(:t) AND contype = 'c' ORDER BY conname"),
            {"t": self._qualified(table)}).fetchall()
        database = {name: definition for name, definition in rows}
        constraints = list(table.constraints)
        for column in table.columns:
            constraints += [c for c in column.constraints if c not in table.constraints]
        unmatched = dict(database)
        missing = []
        for const in constraints:
            if not isinstance(const, sa.CheckConstraint) or getattr(const, "_type_bound", False):
                continue
            text = _sql(const.sqltext, self.dialect)
            name = _final_name(const, self.dialect)
            if name is not None and name in database:
                unmatched.pop(name, None)
                if normalize_sql(text, table.name) != normalize_sql(database[name], table.name):
                    self.add("check_constraint", table.name, table.schema, name=name,
                             model=text, database=database[name])
                continue
            missing.append((name, text))
        for name, text in missing:
            same = [n for n, d in unmatched.items()
                    if normalize_sql(d, table.name) == normalize_sql(text, table.name)]
            if same:
                unmatched.pop(same[0])  # the same condition under PostgreSQL's own name
                continue
            self.add("check_constraint", table.name, table.schema, name=name, model=text)
        for name, definition in unmatched.items():
            self.add("check_constraint", table.name, table.schema, name=name, database=definition)

    # ---- partial-index predicates ---------------------------------------------------------

    def index_predicates(self, table):
        import sqlalchemy as sa

        rows = self.conn.execute(sa.text(
            "SELECT c.relname, pg_get_expr(i.indpred, i.indrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = to_regclass(:t)"),
            {"t": self._qualified(table)}).fetchall()
        database = {name: predicate for name, predicate in rows}
        for index in table.indexes:
            name = _final_name(index, self.dialect)
            if name is None or name not in database:
                continue  # a new or renamed index: alembic compares those by name
            where = index.dialect_options["postgresql"]["where"] \
                if "postgresql" in index.dialect_options else None
            model = _sql(where, self.dialect)
            db = database[name]
            if (model is None) != (db is None) or (
                    model is not None and normalize_sql(model, table.name)
                    != normalize_sql(db, table.name)):
                self.add("index_predicate", table.name, table.schema, name=name,
                         model=model, database=db)

    def _qualified(self, table):
        prep = self.dialect.identifier_preparer
        name = prep.quote(table.name)
        return "%s.%s" % (prep.quote_schema(table.schema), name) if table.schema else name


def differences(context, metadata_arg, metadatas):
    """The differences autogenerate leaves out, and whether server defaults were compared
    here (False when env.py compares them itself or alembic's internals are not there)."""
    comparison = _Comparison(context, metadatas)
    compared_defaults = False
    if not context.opts.get("compare_server_default"):
        compared_defaults = comparison.server_defaults(metadata_arg)
    for table in list(comparison.tables()):
        comparison.columns(table)
        comparison.checks(table)
        comparison.index_predicates(table)
    return {"differences": comparison.out, "serverDefaultsCompared": compared_defaults}
