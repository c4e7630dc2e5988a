DROP TABLE provisioning_events;
DROP TABLE provisioning_steps;
DROP TABLE jobs;
