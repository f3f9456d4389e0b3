// Stand-ins for the few Android framework classes the app's JVM-compiled sources use: the same
// names, packages and signatures as the Android SDK (a subset), so code that compiles against
// them calls real Android API. Behaviour is minimal; constructors marked "stand-in" are not API.
@file:Suppress("unused")

package android.content

import android.content.res.AssetManager

abstract class Context {
    abstract val assets: AssetManager
}

/** Stand-in: a Context whose assets are a folder on disk. */
class FolderContext(root: java.io.File) : Context() {
    override val assets: AssetManager = AssetManager(root)
}
