-- Each service owns its own database.
CREATE DATABASE registration;
CREATE DATABASE assessment;
CREATE DATABASE notification;
CREATE DATABASE reporting;
CREATE DATABASE identity;
