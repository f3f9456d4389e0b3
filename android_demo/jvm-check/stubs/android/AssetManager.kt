@file:Suppress("unused")

package android.content.res

import java.io.File
import java.io.FileNotFoundException
import java.io.InputStream

/** android.content.res.AssetManager; the stand-in reads a folder on disk. */
class AssetManager(private val root: File) {
    /** Like Android: the names in [path] (no path prefix), empty for a missing folder. */
    fun list(path: String): Array<String>? = File(root, path).list() ?: arrayOf()

    fun openFd(fileName: String): AssetFileDescriptor {
        val file = File(root, fileName)
        if (!file.isFile) throw FileNotFoundException(fileName)
        return AssetFileDescriptor(java.io.RandomAccessFile(file, "r"), file.length())
    }

    fun open(fileName: String): InputStream {
        val file = File(root, fileName)
        if (!file.isFile) throw FileNotFoundException(fileName)
        return file.inputStream()
    }
}

/** android.content.res.AssetFileDescriptor: a file descriptor, offset and length of one asset. */
class AssetFileDescriptor(private val file: java.io.RandomAccessFile, val declaredLength: Long) : java.io.Closeable {
    val fileDescriptor: java.io.FileDescriptor get() = file.fd
    val startOffset: Long get() = 0

    override fun close() = file.close()
}
