// android.os.Build: the constants the interpreter flavor reads.
package android.os

object Build {
    object VERSION {
        @JvmField val SDK_INT: Int = 36
    }

    @Suppress("ktlint:standard:class-naming") // Android's own name
    object VERSION_CODES {
        const val O_MR1 = 27
    }
}
