DROP TABLE mfa_enrollments;
