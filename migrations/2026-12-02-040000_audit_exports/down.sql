DROP TABLE audit_export_chunks;
DROP TABLE audit_exports;
