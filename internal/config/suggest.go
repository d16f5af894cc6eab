package config

// Suggest returns the candidate closest to s by edit distance, if it is
// close enough to be a plausible typo ("" otherwise): a third of the
// word's length, at least one edit, at most three.
func Suggest(s string, candidates []string) string {
	best, bestD := "", 0
	limit := max(1, min(3, len(s)/3))
	for _, c := range candidates {
		d := distance(s, c)
		if d <= limit && (best == "" || d < bestD) {
			best, bestD = c, d
		}
	}
	return best
}

// distance is the Damerau-Levenshtein (optimal string alignment) edit
// distance: insertions, deletions, substitutions and swaps of adjacent
// letters each count one ("--metod" is one from "--method", "--mehtod" too).
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
