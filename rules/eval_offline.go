package rules

// The evals of SpamAssassin's network plugins. Postern's content checks send no
// network query (block lists and sender authentication belong to the envelope and
// DNS work), so, as in SpamAssassin run with network tests off, these never hit.
// They are registered so that the rules and meta rules that use them load and run
// as SpamAssassin runs them offline: many metas test them negated ("and not
// SPF_PASS", "and not DKIM_VALID"). (Most of the SPF, DKIM and DMARC evals are
// not among them: eval_auth.go answers those from what [auth] found.)
func init() {
	offline("SPF", "check_spf_skipped_noenvfrom")
	offline("DKIM", "check_dkim_testing", "check_dkim_adsp",
		"check_dkim_verified", "check_dkim_signall", "check_dkim_signsome")
	offline("DNSEval",
		"check_rbl_accreditor", "check_rbl", "check_rbl_ns_from", "check_rbl_txt", "check_rbl_sub",
		"check_rbl_from_host", "check_rbl_from_domain", "check_rbl_envfrom", "check_rbl_headers",
		"check_rbl_rcvd", "check_dns_sender")
	offline("URIDNSBL", "check_uridnsbl")
	offline("HashBL", "check_hashbl_emails", "check_hashbl_uris", "check_hashbl_bodyre",
		"check_hashbl_tag", "check_hashbl_attachments")
	offline("Razor2", "check_razor2", "check_razor2_range")
	offline("Pyzor", "check_pyzor")
	offline("DCC", "check_dcc", "check_dcc_reputation_range")
	offline("ASN", "check_asn")
}
