DROP TABLE service_probes;
