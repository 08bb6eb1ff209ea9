package maintenance

// MaxReasonLen bounds a free-text reason.
const MaxReasonLen = 512
