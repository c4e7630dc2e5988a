DROP TABLE domain_record_overrides;
