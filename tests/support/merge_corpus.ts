/**
 * The corpus of schema changes `branch diff` and `branch merge` are judged by (issue 24):
 * each case is a base schema (`setup`), what a branch changes on top of it (`branch`), and
 * optionally what the target changed meanwhile (`target`), with the outcome a correct merge
 * has. A merged case is checked against a reference database built by replaying
 * setup + target + branch; a refused one must leave the target's schema as it was.
 *
 * tests/integration/merge_corpus_test.ts runs every case in a database of its own
 * ({@link corpusDatabase}); a benchmark may reuse the cases and the report it writes.
 *
 * @module
 */

/** What a correct merge of a case does: apply it, or refuse with an error matching. */
export type CorpusExpect = "merged" | { refused: RegExp };

/** One schema change. */
export interface CorpusCase {
  /** snake_case, unique: part of the database's name. */
  name: string;
  /** The kind of object it exercises. */
  kind: string;
  /** SQL run in the base, before the fork. */
  setup: string;
  /** SQL run on the branch after the fork. */
  branch: string;
  /** SQL run on the target after the fork (three-way cases). */
  target?: string;
  expect: CorpusExpect;
  note?: string;
}

/** Roles the grant cases name (cluster-wide: made once, before the fork). */
export const CORPUS_ROLES = ["corpus_reader", "corpus_writer"];

const CONFLICT = { refused: /changed on both/ };
const DATA_LOSS = { refused: /would lose data/ };
/** A difference PostgreSQL cannot express (column order): refused by the merge's proof. */
const INEXPRESSIBLE = { refused: /column order|in another order|differs/ };

const MOOD = `create type mood as enum ('sad', 'ok');
create table person (id int primary key, m mood not null default 'ok');
insert into person values (1, 'sad'), (2, 'ok');`;
const STAFF = `create table staff (id int primary key, name varchar(50));
create view staff_names as select id, name from staff;`;
const BUMP = `create function bump(x int) returns int language sql immutable as 'select x + 1';`;
const READINGS = `create table reading (at date not null, v int) partition by range (at);
create table reading_2024 partition of reading
  for values from ('2024-01-01') to ('2025-01-01');`;
const SECRET =
  `create table secret (id int primary key, owner name not null default current_user);`;
const REPORT = `create table report (id int primary key, title text, body text);`;

/** The cases, in the order they run. */
export const CORPUS: CorpusCase[] = [
  // schemas
  {
    name: "schema_add_with_table",
    kind: "schema",
    setup: "",
    branch: "create schema app; create table app.note (id int primary key, body text);",
    expect: "merged",
  },
  {
    name: "schema_drop",
    kind: "schema",
    setup: "create schema legacy;",
    branch: "drop schema legacy;",
    expect: DATA_LOSS,
    note: "a dropped schema is refused as data loss, even empty",
  },
  // extensions
  {
    name: "extension_add_citext_column",
    kind: "extension",
    setup: "",
    branch: "create extension citext; create table member (email citext primary key);",
    expect: "merged",
  },
  {
    name: "extension_function_in_default",
    kind: "extension",
    setup: "create table token (id int primary key);",
    branch: `create extension pgcrypto;
alter table token add column secret text not null default encode(gen_random_bytes(8), 'hex');`,
    expect: "merged",
  },
  {
    name: "extension_drop",
    kind: "extension",
    setup: "create extension hstore;",
    branch: "drop extension hstore;",
    expect: "merged",
  },
  // enums
  {
    name: "enum_add_value",
    kind: "enum",
    setup: MOOD,
    branch: "alter type mood add value 'happy';",
    expect: "merged",
    note: "issue 24: migra recreates the type and the script fails",
  },
  {
    name: "enum_add_value_before",
    kind: "enum",
    setup: MOOD,
    branch: "alter type mood add value 'meh' before 'ok';",
    expect: "merged",
  },
  {
    name: "enum_rename_value",
    kind: "enum",
    setup: MOOD,
    branch: "alter type mood rename value 'ok' to 'fine';",
    expect: DATA_LOSS,
    note: "a rename is seen as a recreation without 'ok'",
  },
  {
    name: "enum_added_on_both_sides",
    kind: "enum",
    setup: MOOD,
    target: "alter type mood add value 'from_main';",
    branch: "alter type mood add value 'from_feat';",
    expect: CONFLICT,
  },
  {
    name: "enum_target_added_value_branch_uses_type",
    kind: "enum",
    setup: MOOD,
    target: "alter type mood add value 'calm';",
    branch: "create table diary (id int primary key, m mood);",
    expect: "merged",
    note: "three-way: the branch's new table uses the enum the target changed",
  },
  // domains
  {
    name: "domain_add_constraint",
    kind: "domain",
    setup: "create domain posint as integer; create table stock (id int primary key, qty posint);",
    branch: "alter domain posint add constraint posint_positive check (value > 0);",
    expect: "merged",
  },
  {
    name: "domain_set_default",
    kind: "domain",
    setup: "create domain posint as integer; create table stock (id int primary key, qty posint);",
    branch: "alter domain posint set default 1;",
    expect: "merged",
  },
  {
    name: "domain_create_used_by_table",
    kind: "domain",
    setup: "",
    branch: `create domain email as text check (value like '%@%');
create table contact (id int primary key, e email not null);`,
    expect: "merged",
  },
  // composite types
  {
    name: "composite_add_attribute",
    kind: "composite type",
    setup: `create type address as (street text, city text);
create table site (id int primary key, a address);`,
    branch: "alter type address add attribute zip text;",
    expect: "merged",
  },
  // collations
  {
    name: "collation_icu_used_by_column",
    kind: "collation",
    setup: "",
    branch:
      `create collation ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
create table tag (name text collate ci primary key);`,
    expect: "merged",
  },
  // sequences
  {
    name: "sequence_create_start_increment",
    kind: "sequence",
    setup: "",
    branch: "create sequence inv_no start 5000 increment 10;",
    expect: "merged",
    note: "issue 24: merged as a bare create sequence",
  },
  {
    name: "sequence_create_as_integer",
    kind: "sequence",
    setup: "",
    branch: "create sequence small_no as integer;",
    expect: "merged",
    note: "issue 24: comes back bigint",
  },
  {
    name: "sequence_alter_options",
    kind: "sequence",
    setup: "create sequence ticket_no;",
    branch: "alter sequence ticket_no increment by 5 maxvalue 1000000 cache 20 cycle;",
    expect: "merged",
  },
  {
    name: "sequence_drop",
    kind: "sequence",
    setup: "create sequence gone_no;",
    branch: "drop sequence gone_no;",
    expect: DATA_LOSS,
  },
  {
    name: "sequence_serial_disowned",
    kind: "sequence",
    setup: "create table invoice (id serial primary key, n text);",
    branch: "alter sequence invoice_id_seq owned by none;",
    expect: "merged",
    note: "issue 24: serial to an explicit sequence: OWNED BY is lost",
  },
  {
    name: "sequence_explicit_owned_by_column",
    kind: "sequence",
    setup: `create sequence tick_seq;
create table tick (id int not null default nextval('tick_seq') primary key);`,
    branch: "alter sequence tick_seq owned by tick.id;",
    expect: "merged",
    note: "issue 24: an explicit sequence to serial-like ownership",
  },
  // identity
  {
    name: "identity_add_start_with",
    kind: "identity",
    setup: `create table account (id int not null primary key, name text);
insert into account values (1, 'a'), (2, 'b');`,
    branch:
      "alter table account alter column id add generated always as identity (start with 1000);",
    expect: "merged",
    note: "issue 24: merged without its start",
  },
  {
    name: "identity_alter_options",
    kind: "identity",
    setup: "create table event (id bigint generated by default as identity primary key, at date);",
    branch:
      "alter table event alter column id set generated always set increment by 10 set start with 500;",
    expect: "merged",
  },
  // tables and columns
  {
    name: "table_create_column_order",
    kind: "table",
    setup: "",
    branch: `create table wide (z int primary key, a text, m date,
  b boolean not null default false, k numeric(10, 2));`,
    expect: "merged",
  },
  {
    name: "table_drop",
    kind: "table",
    setup: "create table archive (id int primary key);",
    branch: "drop table archive;",
    expect: DATA_LOSS,
  },
  {
    name: "column_add_not_null_default",
    kind: "column",
    setup: "create table item (id int primary key); insert into item values (1);",
    branch: "alter table item add column qty int not null default 0, add column note varchar(200);",
    expect: "merged",
  },
  {
    name: "column_drop",
    kind: "column",
    setup: "create table profile (id int primary key, bio text, age int);",
    branch: "alter table profile drop column bio;",
    expect: DATA_LOSS,
  },
  {
    name: "column_type_widen",
    kind: "column",
    setup: "create table metric (id int primary key, v int, label varchar(20));",
    branch: "alter table metric alter column v type bigint, alter column label type text;",
    expect: "merged",
  },
  {
    name: "column_type_narrow",
    kind: "column",
    setup: "create table metric (id int primary key, v int, label varchar(20));",
    branch: "alter table metric alter column v type smallint;",
    expect: DATA_LOSS,
  },
  {
    name: "column_rename",
    kind: "column",
    setup: "create table city (id int primary key, nm text);",
    branch: "alter table city rename column nm to name;",
    expect: DATA_LOSS,
    note: "a rename is seen as a drop and an add",
  },
  {
    name: "column_set_not_null_and_default",
    kind: "column",
    setup: "create table setting (k text, v text);",
    branch: "alter table setting alter column k set not null, alter column v set default 'none';",
    expect: "merged",
  },
  {
    name: "column_reorder_by_recreating_table",
    kind: "column order",
    setup: "create table layout (a int, b text, c date);",
    branch: "drop table layout; create table layout (c date, a int, b text);",
    expect: INEXPRESSIBLE,
    note: "PostgreSQL cannot reorder columns: the merge must refuse, naming the order",
  },
  {
    name: "column_readded_moves_last",
    kind: "column order",
    setup: "create table shape (a int, b int, c int);",
    branch: "alter table shape drop column a; alter table shape add column a int;",
    expect: { refused: /column order|in another order|differs|would lose data/ },
    note: "same columns, a now last: reproduced by drop/add (data loss) or refused",
  },
  {
    name: "generated_column_add",
    kind: "generated column",
    setup: "create table box (id int primary key, w int, h int);",
    branch: "alter table box add column area int generated always as (w * h) stored;",
    expect: "merged",
  },
  {
    name: "generated_column_set_expression",
    kind: "generated column",
    setup: `create table panel (id int primary key, w int, h int,
  area int generated always as (w * h) stored);`,
    branch: "alter table panel alter column area set expression as (w * h * 2);",
    expect: "merged",
    note: "PostgreSQL 17 alters the expression in place; a drop/add would lose nothing",
  },
  // partitions and inheritance
  {
    name: "partition_add",
    kind: "partition",
    setup: READINGS,
    branch: `create table reading_2025 partition of reading
  for values from ('2025-01-01') to ('2026-01-01');`,
    expect: "merged",
  },
  {
    name: "partition_detach",
    kind: "partition",
    setup: READINGS,
    branch: "alter table reading detach partition reading_2024;",
    expect: "merged",
  },
  {
    name: "partitioned_table_create",
    kind: "partition",
    setup: "",
    branch: `create table applog (at timestamptz not null, msg text) partition by range (at);
create table applog_default partition of applog default;
create index applog_at on applog (at);`,
    expect: { refused: /INDEX ATTACH public\.applog_default_at_idx missing/ },
    note: "neither engine attaches a partition's index to its parent's: the proof refuses it",
  },
  {
    name: "inheritance_child_add",
    kind: "inheritance",
    setup: "create table vehicle (id int, wheels int);",
    branch: "create table car (doors int) inherits (vehicle);",
    expect: "merged",
    note: "issue 24: inherited columns come back declared locally",
  },
  {
    name: "inheritance_parent_add_column",
    kind: "inheritance",
    setup:
      "create table animal (id int, name text); create table dog (breed text) inherits (animal);",
    branch: "alter table animal add column born date;",
    expect: "merged",
  },
  // views and materialized views
  {
    name: "view_over_changed_column",
    kind: "view",
    setup: STAFF,
    branch: `drop view staff_names;
alter table staff alter column name type text;
create view staff_names as select id, name from staff;`,
    expect: "merged",
  },
  {
    name: "view_add_column",
    kind: "view",
    setup: STAFF,
    branch:
      "create or replace view staff_names as select id, name, upper(name) as shout from staff;",
    expect: "merged",
  },
  {
    name: "view_dropped_on_target_changed_on_branch",
    kind: "view",
    setup: STAFF,
    target: "drop view staff_names;",
    branch: "create or replace view staff_names as select id, name, 1 as one from staff;",
    expect: CONFLICT,
  },
  {
    name: "matview_create_with_index",
    kind: "materialized view",
    setup: "create table sale (id int primary key, amount numeric);",
    branch: `create materialized view sale_total as
  select count(*) as n, sum(amount) as total from sale;
create unique index sale_total_n on sale_total (n);`,
    expect: "merged",
  },
  {
    name: "matview_redefine",
    kind: "materialized view",
    setup: `create table sale (id int primary key, amount numeric);
create materialized view sale_sum as select sum(amount) as total from sale;`,
    branch: `drop materialized view sale_sum;
create materialized view sale_sum as select sum(amount) as total, max(amount) as top from sale;`,
    expect: DATA_LOSS,
    note: "a materialized view is recreated: refused as data loss",
  },
  // functions and procedures
  {
    name: "function_replace_body",
    kind: "function",
    setup: BUMP,
    branch:
      "create or replace function bump(x int) returns int language sql immutable as 'select x + 2';",
    expect: "merged",
  },
  {
    name: "function_change_signature",
    kind: "function",
    setup: BUMP,
    branch: `drop function bump(int);
create function bump(x int, step int default 1) returns int language sql immutable
  as 'select x + step';`,
    expect: "merged",
  },
  {
    name: "function_used_in_default",
    kind: "function",
    setup: "create table ticket (id int primary key);",
    branch: `create function next_code() returns text language sql
  as $$select 'T-' || floor(random() * 1000)::int$$;
alter table ticket add column code text default next_code();`,
    expect: "merged",
    note: "README: a known statement-order gap of migra",
  },
  {
    name: "procedure_create",
    kind: "procedure",
    setup: "",
    branch: `create procedure log_msg(msg text) language plpgsql
  as $$begin raise notice '%', msg; end$$;`,
    expect: "merged",
  },
  {
    name: "function_changed_on_both_sides",
    kind: "function",
    setup: BUMP,
    target:
      "create or replace function bump(x int) returns int language sql immutable as 'select x + 3';",
    branch:
      "create or replace function bump(x int) returns int language sql immutable as 'select x + 4';",
    expect: CONFLICT,
  },
  {
    name: "function_same_change_on_both_sides",
    kind: "function",
    setup: BUMP,
    target:
      "create or replace function bump(x int) returns int language sql immutable as 'select x + 5';",
    branch:
      "create or replace function bump(x int) returns int language sql immutable as 'select x + 5';",
    expect: "merged",
    note: "the same change on both sides is no conflict (nothing left to merge)",
  },
  // indexes
  {
    name: "index_on_expression",
    kind: "index",
    setup: "create table usr (id int primary key, email text, active bool);",
    branch: "create index usr_lower_email on usr (lower(email));",
    expect: "merged",
  },
  {
    name: "index_partial_unique",
    kind: "index",
    setup: "create table usr (id int primary key, email text, active bool);",
    branch: "create unique index usr_active_email on usr (email) where active;",
    expect: "merged",
  },
  {
    name: "index_change_columns",
    kind: "index",
    setup: "create table ord (id int primary key, a int, b int); create index ord_a on ord (a);",
    branch: "drop index ord_a; create index ord_a on ord (a, b);",
    expect: "merged",
  },
  // constraints
  {
    name: "constraint_check_add",
    kind: "constraint",
    setup: "create table price (id int primary key, v numeric);",
    branch: "alter table price add constraint price_positive check (v > 0);",
    expect: "merged",
  },
  {
    name: "constraint_unique_add",
    kind: "constraint",
    setup: "create table price (id int primary key, v numeric);",
    branch: "alter table price add constraint price_v_key unique (v);",
    expect: "merged",
  },
  {
    name: "constraint_foreign_key_add",
    kind: "constraint",
    setup: `create table parent (id int primary key);
create table child (id int primary key, parent_id int);`,
    branch: `alter table child add constraint child_parent_fk
  foreign key (parent_id) references parent (id) on delete cascade;`,
    expect: "merged",
  },
  {
    name: "constraint_exclusion_add",
    kind: "constraint",
    setup: "create table booking (room int, during tsrange);",
    branch: `create extension btree_gist;
alter table booking add constraint booking_no_overlap
  exclude using gist (room with =, during with &&);`,
    expect: "merged",
  },
  {
    name: "constraint_check_drop",
    kind: "constraint",
    setup: "create table fee (id int primary key, v int constraint fee_positive check (v > 0));",
    branch: "alter table fee drop constraint fee_positive;",
    expect: "merged",
  },
  // triggers
  {
    name: "trigger_add_with_function",
    kind: "trigger",
    setup: "create table doc (id int primary key, body text, updated_at timestamptz);",
    branch: `create function touch() returns trigger language plpgsql
  as $$begin new.updated_at := now(); return new; end$$;
create trigger doc_touch before update on doc for each row execute function touch();`,
    expect: "merged",
  },
  {
    name: "trigger_change_events",
    kind: "trigger",
    setup: `create table doc (id int primary key, body text, updated_at timestamptz);
create function touch() returns trigger language plpgsql
  as $$begin new.updated_at := now(); return new; end$$;
create trigger doc_touch before update on doc for each row execute function touch();`,
    branch: `drop trigger doc_touch on doc;
create trigger doc_touch before insert or update on doc for each row execute function touch();`,
    expect: "merged",
  },
  // row level security
  {
    name: "rls_enable_with_policy",
    kind: "policy",
    setup: SECRET,
    branch: `alter table secret enable row level security;
create policy secret_owner on secret using (owner = current_user);`,
    expect: "merged",
  },
  {
    name: "rls_policy_change",
    kind: "policy",
    setup: `${SECRET}
alter table secret enable row level security;
create policy secret_owner on secret using (owner = current_user);`,
    branch: `drop policy secret_owner on secret;
create policy secret_owner on secret for select to corpus_reader using (true);`,
    expect: "merged",
  },
  {
    name: "rls_force",
    kind: "policy",
    setup: `${SECRET}
alter table secret enable row level security;`,
    branch: "alter table secret force row level security;",
    expect: "merged",
  },
  // grants
  {
    name: "grant_table",
    kind: "grant",
    setup: REPORT,
    branch: "grant select on report to corpus_reader;",
    expect: "merged",
  },
  {
    name: "grant_column",
    kind: "grant",
    setup: REPORT,
    branch: "grant select (id, title), update (title) on report to corpus_writer;",
    expect: "merged",
  },
  {
    name: "revoke_table",
    kind: "grant",
    setup: `${REPORT}
grant select, insert on report to corpus_writer;`,
    branch: "revoke insert on report from corpus_writer;",
    expect: "merged",
  },
  {
    name: "grant_sequence",
    kind: "grant",
    setup: "create sequence order_no;",
    branch: "grant usage, select on sequence order_no to corpus_writer;",
    expect: "merged",
  },
  {
    name: "grant_function",
    kind: "grant",
    setup: BUMP,
    branch: `revoke execute on function bump(int) from public;
grant execute on function bump(int) to corpus_reader;`,
    expect: "merged",
  },
  {
    name: "grant_schema",
    kind: "grant",
    setup: "create schema app;",
    branch: "grant usage on schema app to corpus_reader;",
    expect: "merged",
  },
  // three-way: the target changed too
  {
    name: "three_way_unrelated_tables",
    kind: "table",
    setup: "create table a (id int primary key); create table b (id int primary key);",
    target: "alter table a add column x int; create index a_x on a (x);",
    branch: `alter table b add column y text;
create table c (id int primary key references b (id));`,
    expect: "merged",
  },
  {
    name: "three_way_target_dropped_other_table",
    kind: "table",
    setup: "create table keep (id int primary key); create table doomed (id int);",
    target: "drop table doomed;",
    branch: "alter table keep add column z int;",
    expect: "merged",
    note: "the target's own drop is kept, not reverted",
  },
  {
    name: "three_way_column_added_on_both",
    kind: "column",
    setup: "create table shared (id int primary key);",
    target: "alter table shared add column from_main int;",
    branch: "alter table shared add column from_feat int;",
    expect: CONFLICT,
    note: "both added a column to the same table: the column order would differ",
  },
];

/** The database a case runs in: `c01_<name>`, lowercase, at most 59 bytes (+ `_ref`). */
export function corpusDatabase(index: number, c: CorpusCase): string {
  return `c${String(index + 1).padStart(2, "0")}_${c.name}`.slice(0, 59);
}

/** How a case's expectation reads in a report. */
export function expectLabel(expect: CorpusExpect): string {
  return expect === "merged" ? "merged" : `refused ${expect.refused}`;
}
