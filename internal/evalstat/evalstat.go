// Package evalstat is the arithmetic the evaluation tools share: how well a score
// (a spam probability, a verdict's points) ranks spam above ham.
package evalstat

import "sort"

// Scored is one message's score and class.
type Scored struct {
	Score float64
	Spam  bool
}

// AUC is the probability that a random spam scores above a random ham (ties count
// half); 0 without both classes.
func AUC(res []Scored) float64 {
	sorted := append([]Scored(nil), res...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Score < sorted[j].Score })
	var hamBelow, sum, nspam, nham float64
	for i := 0; i < len(sorted); {
		j := i
		var hams, spams float64
		for j < len(sorted) && sorted[j].Score == sorted[i].Score {
			if sorted[j].Spam {
				spams++
			} else {
				hams++
			}
			j++
		}
		sum += spams * (hamBelow + hams/2)
		hamBelow += hams
		nspam += spams
		nham += hams
		i = j
	}
	if nspam == 0 || nham == 0 {
		return 0
	}
	return sum / (nspam * nham)
}

// StrictCaught is the percentage of spam scoring above the threshold that loses at
// most 0.1 % of the ham (maxFP of nham), at a threshold that splits no tie: the
// operating point the project's targets name.
func StrictCaught(res []Scored) (pct float64, maxFP, nham int) {
	sorted := append([]Scored(nil), res...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Score > sorted[j].Score })
	nspam := 0
	for _, r := range sorted {
		if r.Spam {
			nspam++
		} else {
			nham++
		}
	}
	maxFP = int(0.001 * float64(nham))
	fp, caught, best := 0, 0, 0
	for i, r := range sorted {
		if r.Spam {
			caught++
		} else {
			fp++
		}
		if fp <= maxFP && (i+1 == len(sorted) || sorted[i+1].Score != r.Score) {
			best = caught
		}
	}
	if nspam == 0 {
		return 0, maxFP, nham
	}
	return 100 * float64(best) / float64(nspam), maxFP, nham
}
