package uribl

// Domains and Hosts are linkNames' two lists, for the package's external tests.
func Domains(uris []string, n int, skip func(string) bool) []string {
	domains, _ := linkNames(uris, n, skip)
	return domains
}

func Hosts(uris []string, n int, skip func(string) bool) []string {
	_, hosts := linkNames(uris, n, skip)
	return hosts
}
