package com.portraitmobile.demo.segmentation

/**
 * The quality levels of the Python runtime (portrait_mobile/runtime/options.py QUALITIES):
 * fast, the coarse model's mask; balanced, that mask through the guided filter at the frame's size
 * ([GuidedFilter]); accurate, the coarse model plus the learned edge refiner on the contour's tiles
 * at the refiner's working frame, those tiles then snapped to the frame's own edges by the guided
 * filter inside them ([EdgeBand], [EdgeRefiner]).
 */
enum class Quality(val label: String) {
    FAST("fast"),
    BALANCED("balanced"),
    ACCURATE("accurate"),
    ;

    companion object {
        /** Why accurate is not offered, when no edge refiner is in assets/models. */
        const val NO_REFINER =
            "accurate needs an edge refiner in assets/models: portrait-export --refiner --target tflite --demo-assets"

        /** The levels this app can run: accurate only when an edge refiner was found. */
        fun offered(haveRefiner: Boolean): List<Quality> = if (haveRefiner) entries.toList() else listOf(FAST, BALANCED)

        /** Null when accurate is offered, else why not. */
        fun whyNotAccurate(haveRefiner: Boolean): String? = if (haveRefiner) null else NO_REFINER

        /** The readout's line for [level] when it ran ([detail]: on what), and why accurate is not offered. */
        fun readout(level: Quality, detail: String, haveRefiner: Boolean): String {
            val line = "quality ${level.label} · $detail"
            return whyNotAccurate(haveRefiner)?.let { "$line\n$it" } ?: line
        }
    }
}
