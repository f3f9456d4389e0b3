@file:Suppress("unused", "UNUSED_PARAMETER")

package org.tensorflow.lite.gpu

import org.tensorflow.lite.Delegate

class GpuDelegate(options: Options) : Delegate {
    class Options

    override fun getNativeHandle(): Long = 0
}

class CompatibilityList : AutoCloseable {
    val isDelegateSupportedOnThisDevice: Boolean get() = false
    val bestOptionsForThisDevice: GpuDelegate.Options get() = GpuDelegate.Options()

    override fun close() {}
}
