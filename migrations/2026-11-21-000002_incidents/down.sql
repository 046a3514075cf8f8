DROP TABLE change_requests;
DROP TABLE tasks;
DROP TABLE timeline_entries;
DROP TABLE incident_roles;
DROP TABLE incident_components;
DROP TABLE incidents;
DROP TABLE components;
