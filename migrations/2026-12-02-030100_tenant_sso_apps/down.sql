DROP TABLE tenant_sso_apps;
