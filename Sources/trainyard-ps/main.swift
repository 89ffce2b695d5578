import TrainyardRoles

RoleEntryPoints.parameterServer()
