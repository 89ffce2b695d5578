import TrainyardRoles

RoleEntryPoints.chief()
