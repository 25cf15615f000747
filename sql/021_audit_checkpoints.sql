-- 021_audit_checkpoints.sql — signed checkpoints of the audit hash chain.
--
-- The audit sealer periodically signs (chain position, head hash, time) with an Ed25519 key kept
-- outside the database (CERTBUS_AUDIT_KEY_FILE) and stores the result here, together with an
-- AUDIT_CHECKPOINT row in certbus.audit_log. `certbus audit checkpoint export` writes the latest
-- one to a file for safekeeping; `certbus audit verify` checks every signature and compares each
-- checkpoint with the recomputed chain. Insert-only, like the log itself.

CREATE TABLE certbus.audit_checkpoints (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  chain_position  bigint NOT NULL CHECK (chain_position > 0),
  head_hash       bytea NOT NULL CHECK (octet_length(head_hash) = 32),
  signed_at       timestamptz NOT NULL,
  public_key      bytea NOT NULL CHECK (octet_length(public_key) = 32),
  signature       bytea NOT NULL CHECK (octet_length(signature) = 64),
  audit_log_id    bigint NOT NULL
);
COMMENT ON TABLE certbus.audit_checkpoints IS
  'Signed checkpoints of the audit hash chain: the chain head at a position, signed with the audit key (Ed25519). '
  'Insert-only. The signed message is described in docs/audit.md.';
COMMENT ON COLUMN certbus.audit_checkpoints.id IS 'Checkpoint id.';
COMMENT ON COLUMN certbus.audit_checkpoints.chain_position IS 'The chain position the checkpoint covers: every row at or below it.';
COMMENT ON COLUMN certbus.audit_checkpoints.head_hash IS 'certbus.audit_log.chain_hash of the row at chain_position when the checkpoint was signed.';
COMMENT ON COLUMN certbus.audit_checkpoints.signed_at IS 'When the sealer signed the checkpoint (part of the signed message, microsecond precision).';
COMMENT ON COLUMN certbus.audit_checkpoints.public_key IS 'Raw 32-byte Ed25519 public key of the signing key (verify also against your own copy of the key).';
COMMENT ON COLUMN certbus.audit_checkpoints.signature IS 'Ed25519 signature (64 bytes) over the message described in docs/audit.md.';
COMMENT ON COLUMN certbus.audit_checkpoints.audit_log_id IS 'Log id of the AUDIT_CHECKPOINT row written in the same transaction.';
CREATE INDEX audit_checkpoints_position ON certbus.audit_checkpoints (chain_position);
COMMENT ON INDEX certbus.audit_checkpoints_position IS 'Finds the checkpoint covering a chain position.';

CREATE TRIGGER audit_checkpoints_reject_update BEFORE UPDATE ON certbus.audit_checkpoints
  FOR EACH ROW EXECUTE FUNCTION certbus.audit_log_reject_change();
CREATE TRIGGER audit_checkpoints_reject_delete BEFORE DELETE ON certbus.audit_checkpoints
  FOR EACH ROW EXECUTE FUNCTION certbus.audit_log_reject_change();
CREATE TRIGGER audit_checkpoints_reject_truncate BEFORE TRUNCATE ON certbus.audit_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION certbus.audit_log_reject_change();
