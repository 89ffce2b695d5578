import TrainyardRoles

RoleEntryPoints.worker()
