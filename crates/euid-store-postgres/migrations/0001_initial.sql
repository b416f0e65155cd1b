-- euid-store-postgres schema version 1: everything an operator serves from memory, the
-- opt-outs, and the change counter replicas watch.

-- One row: the counter every write to keys, salts, clients or keypairs moves (replicas
-- reload their snapshot when it changes), and when the store was seeded (NULL: not yet).
CREATE TABLE store_state (
    id smallint PRIMARY KEY CHECK (id = 1),
    change_counter bigint NOT NULL DEFAULT 0,
    seeded_at timestamptz
);
INSERT INTO store_state (id) VALUES (1);

-- keysets.json, one row per keyset, in file order.
CREATE TABLE keysets (
    keyset_id integer PRIMARY KEY,
    position integer NOT NULL UNIQUE,
    site_id integer NOT NULL,
    name text NOT NULL,
    allowed_sites integer[],
    created bigint NOT NULL,
    enabled boolean NOT NULL,
    is_default boolean NOT NULL
);

-- keyset_keys.json, one row per key (the secret as the file has it, base64), in file order.
CREATE TABLE keyset_keys (
    key_id integer PRIMARY KEY,
    position integer NOT NULL UNIQUE,
    keyset_id integer NOT NULL,
    created bigint NOT NULL,
    activates bigint NOT NULL,
    expires bigint NOT NULL,
    secret text NOT NULL
);

-- The salts: one row holding salts/metadata.json and salts/salts.txt as the data directory
-- writes them, so 1,048,576 buckets load in one round trip and parse with the same code as
-- the files; the validity columns are the metadata's times, for queries.
CREATE TABLE salts (
    id smallint PRIMARY KEY CHECK (id = 1),
    metadata_json text NOT NULL,
    salts_csv text NOT NULL,
    bucket_count integer NOT NULL,
    generated_s bigint NOT NULL,
    effective_ms bigint NOT NULL,
    expires_ms bigint NOT NULL
);

-- clients.json, one record (its JSON object) per row, in file order.
CREATE TABLE clients (
    position integer PRIMARY KEY,
    key_id text NOT NULL,
    site_id integer NOT NULL,
    record text NOT NULL
);

-- client_side_keypairs.json, one keypair (its JSON object) per row, in file order.
CREATE TABLE client_side_keypairs (
    position integer PRIMARY KEY,
    subscription_id text NOT NULL UNIQUE,
    record text NOT NULL
);

-- Opt-outs. `seq` is taken under a transaction-scoped advisory lock, so sequence order is
-- commit order and a replica catching up by `seq > last` misses nothing; a re-recorded
-- identity gets a new seq (and keeps its latest time).
CREATE SEQUENCE optout_seq;
CREATE TABLE optouts (
    first_level_hash bytea NOT NULL CHECK (length(first_level_hash) = 32),
    advertising_id bytea NOT NULL,
    opted_out_ms bigint NOT NULL,
    seq bigint NOT NULL,
    PRIMARY KEY (first_level_hash, advertising_id)
);
CREATE UNIQUE INDEX optouts_by_seq ON optouts (seq);
