/// The role model of docs/security.md as data: what each certbus role may do with every table
/// and view of schema `certbus`. `PrivilegeMatrixTests` checks it against the catalog (every
/// relation must have a row, every row a relation) and against real logins running real
/// statements.
///
/// Read a row as: relation — certbus_service / certbus_reporter / certbus_auditor. Rules that
/// hold for every row and are not repeated:
/// - certbus_agent may do nothing with any relation (agents use only the `agent_*` functions);
/// - a login in no certbus group may do nothing with any relation (PUBLIC has nothing);
/// - nobody may TRUNCATE anything;
/// - the partitions of `audit_log` have the row of `audit_log`.
enum PrivilegeMatrix {
    /// A statement kind the matrix covers.
    enum Operation: String, CaseIterable, Sendable {
        case select = "SELECT", insert = "INSERT", update = "UPDATE", delete = "DELETE", truncate = "TRUNCATE"
    }

    typealias Rights = Set<Operation>

    static let none: Rights = []
    /// SELECT only.
    static let read: Rights = [.select]
    /// SELECT, INSERT, UPDATE, DELETE.
    static let readWrite: Rights = [.select, .insert, .update, .delete]
    /// SELECT and INSERT: the audit log (plus UPDATE of its two seal columns only, checked apart)
    /// and the audit checkpoints.
    static let append: Rights = [.select, .insert]
    /// SELECT and UPDATE: the sealer's one bookkeeping row.
    static let readUpdate: Rights = [.select, .update]

    /// One row: a relation and what certbus_service, certbus_reporter and certbus_auditor may do.
    struct Row: Sendable {
        let relation: String
        let service: Rights
        let reporter: Rights
        let auditor: Rights
    }

    // swift-format-ignore
    static let rows: [Row] = [
        //  relation                                    service     reporter  auditor
        // Jobs
        Row(relation: "jobs",                           service: readWrite, reporter: read, auditor: none),
        Row(relation: "job_attempts",                   service: readWrite, reporter: read, auditor: none),
        Row(relation: "job_kinds",                      service: read,      reporter: read, auditor: none),  // vocabulary: migrations only
        Row(relation: "noop_runs",                      service: readWrite, reporter: read, auditor: none),
        // Audit: insert-only for services, the only thing auditors read
        Row(relation: "audit_log",                      service: append,    reporter: read, auditor: read),
        Row(relation: "audit_checkpoints",              service: append,    reporter: read, auditor: read),
        Row(relation: "audit_actions",                  service: read,      reporter: read, auditor: read),  // vocabulary
        Row(relation: "audit_seal_state",               service: readUpdate, reporter: read, auditor: read),
        // CAs, profiles, certificates
        Row(relation: "certificate_authorities",        service: readWrite, reporter: read, auditor: none),
        Row(relation: "certificate_groups",             service: readWrite, reporter: read, auditor: none),
        Row(relation: "ra_profiles",                    service: readWrite, reporter: read, auditor: none),
        Row(relation: "certificates",                   service: readWrite, reporter: read, auditor: none),
        Row(relation: "certificate_requests",           service: readWrite, reporter: read, auditor: none),
        Row(relation: "approvals",                      service: readWrite, reporter: read, auditor: none),
        Row(relation: "ca_issued_certificates",         service: readWrite, reporter: read, auditor: none),
        Row(relation: "ca_crls",                        service: readWrite, reporter: read, auditor: none),
        Row(relation: "certificate_expiry_marks",       service: readWrite, reporter: read, auditor: none),
        Row(relation: "certificate_tallies",            service: readWrite, reporter: read, auditor: none),  // kept by triggers on certificates
        // Incidents (mass replacement)
        Row(relation: "incidents",                      service: readWrite, reporter: read, auditor: none),
        Row(relation: "incident_items",                 service: readWrite, reporter: read, auditor: none),
        Row(relation: "incident_deployments",           service: readWrite, reporter: read, auditor: none),
        // Events, triggers, notifications, alerts
        Row(relation: "event_types",                    service: read,      reporter: read, auditor: none),  // vocabulary
        Row(relation: "events",                         service: readWrite, reporter: read, auditor: none),
        Row(relation: "event_triggers",                 service: readWrite, reporter: read, auditor: none),
        Row(relation: "event_trigger_runs",             service: readWrite, reporter: read, auditor: none),
        Row(relation: "notification_profiles",          service: readWrite, reporter: read, auditor: none),
        Row(relation: "notification_deliveries",        service: readWrite, reporter: read, auditor: none),
        Row(relation: "alerts",                         service: readWrite, reporter: read, auditor: none),
        // Endpoints, agents, discovery
        Row(relation: "automation_statuses",            service: read,      reporter: read, auditor: none),  // vocabulary
        Row(relation: "automation_workflow_steps",      service: read,      reporter: read, auditor: none),  // vocabulary
        Row(relation: "agents",                         service: readWrite, reporter: read, auditor: none),
        Row(relation: "endpoints",                      service: readWrite, reporter: read, auditor: none),
        Row(relation: "endpoint_status_history",        service: readWrite, reporter: read, auditor: none),
        Row(relation: "deployment_validations",         service: readWrite, reporter: read, auditor: none),
        Row(relation: "discovery_runs",                 service: readWrite, reporter: read, auditor: none),
        Row(relation: "discovery_findings",             service: readWrite, reporter: read, auditor: none),
        Row(relation: "agent_csr_submissions",          service: readWrite, reporter: read, auditor: none),
        // Migration history: written by `certbus migrate` (the owner) only
        Row(relation: "schema_migrations",              service: read,      reporter: read, auditor: none),
        // Views: read-only for everyone (several are automatically updatable)
        Row(relation: "running_jobs",                   service: read,      reporter: read, auditor: none),
        Row(relation: "failed_jobs_last_day",           service: read,      reporter: read, auditor: none),
        Row(relation: "queue_depth",                    service: read,      reporter: read, auditor: none),
        Row(relation: "job_failure_patterns",           service: read,      reporter: read, auditor: none),
        Row(relation: "current_crls",                   service: read,      reporter: read, auditor: none),
        Row(relation: "certificate_lineage",            service: read,      reporter: read, auditor: none),
        Row(relation: "profile_expiry_ladders",         service: read,      reporter: read, auditor: none),
        Row(relation: "unread_error_alerts",            service: read,      reporter: read, auditor: none),
        Row(relation: "alerts_by_type_and_day",         service: read,      reporter: read, auditor: none),
        Row(relation: "expiring_certificates_without_replacement", service: read, reporter: read, auditor: none),
        Row(relation: "endpoint_overview",              service: read,      reporter: read, auditor: none),
        Row(relation: "certificate_locations",          service: read,      reporter: read, auditor: none),
        Row(relation: "daily_operations_summary",       service: read,      reporter: read, auditor: none),
        Row(relation: "weekly_certificate_trends",      service: read,      reporter: read, auditor: none),
        Row(relation: "weekly_job_failure_patterns",    service: read,      reporter: read, auditor: none),
        Row(relation: "weekly_alert_patterns",          service: read,      reporter: read, auditor: none),
        Row(relation: "certificates_by_key",            service: read,      reporter: read, auditor: none),
        Row(relation: "certificate_authority_tree",     service: read,      reporter: read, auditor: none),
        Row(relation: "endpoint_certificates",          service: read,      reporter: read, auditor: none),
        Row(relation: "incident_progress",              service: read,      reporter: read, auditor: none),
    ]

    /// What `login` may do with `relation` (a partition of audit_log reads as audit_log), or nil
    /// when the matrix has no row for it.
    static func rights(_ login: Login, _ relation: String) -> Rights? {
        guard let row = rows.first(where: { $0.relation == relation }) else { return nil }
        switch login {
        case .service: return row.service
        case .reporter: return row.reporter
        case .auditor: return row.auditor
        case .agent, .nobody: return none
        }
    }

    /// The functions certbus_agent may EXECUTE: exactly these (sql/051, sql/054).
    static let agentFunctions: Set<String> = [
        "agent_lookup", "agent_heartbeat", "agent_endpoints", "agent_change_endpoint_status", "agent_claim_jobs",
        "agent_extend_lease", "agent_install_details", "agent_submit_csr", "agent_issuance", "agent_installing",
        "agent_finish_install",
    ]
}
