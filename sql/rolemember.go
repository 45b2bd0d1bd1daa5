package sql

// IsMemberOf reports whether role is a member of group, itself included,
// directly or through other roles whether they inherit or not (PostgreSQL's
// is_member_of_role_nosuper): what pg_hba.conf's "+group" and samerole ask.
// (Added by the AUTH part of issue 9 for the wire layers' hba rules.)
func (db *DB) IsMemberOf(role, group string) bool {
	g, ok := db.store.Catalog().Role(group)
	if !ok {
		return false
	}
	p := db.principalOf(role)
	return p.exists && p.memberOf[g.OID]
}
