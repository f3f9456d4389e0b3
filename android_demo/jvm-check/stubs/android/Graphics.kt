@file:Suppress("unused", "UNUSED_PARAMETER")

package android.graphics

/** android.graphics.Bitmap: the stand-in keeps its ARGB pixels in an array. */
class Bitmap private constructor(val width: Int, val height: Int, val config: Config) {
    enum class Config { ALPHA_8, RGB_565, ARGB_8888 }

    private val pixels = IntArray(width * height)

    var isRecycled: Boolean = false
        private set

    fun getPixels(pixels: IntArray, offset: Int, stride: Int, x: Int, y: Int, width: Int, height: Int) {
        for (row in 0 until height) {
            System.arraycopy(this.pixels, (y + row) * this.width + x, pixels, offset + row * stride, width)
        }
    }

    fun setPixels(pixels: IntArray, offset: Int, stride: Int, x: Int, y: Int, width: Int, height: Int) {
        for (row in 0 until height) {
            System.arraycopy(pixels, offset + row * stride, this.pixels, (y + row) * this.width + x, width)
        }
    }

    fun recycle() {
        isRecycled = true
    }

    companion object {
        @JvmStatic
        fun createBitmap(width: Int, height: Int, config: Config): Bitmap {
            require(width > 0 && height > 0) { "width and height must be > 0" }
            return Bitmap(width, height, config)
        }
    }
}

/** android.graphics.Canvas: the stand-in draws nothing. */
class Canvas(private val bitmap: Bitmap) {
    fun drawBitmap(bitmap: Bitmap, left: Float, top: Float, paint: Paint?) {}

    fun drawBitmap(bitmap: Bitmap, src: Rect?, dst: Rect, paint: Paint?) {}

    fun drawBitmap(bitmap: Bitmap, matrix: Matrix, paint: Paint?) {}

    fun drawRect(r: Rect, paint: Paint) {}
}

class Color {
    companion object {
        @JvmStatic
        fun argb(alpha: Int, red: Int, green: Int, blue: Int): Int =
            (alpha shl 24) or (red shl 16) or (green shl 8) or blue

        @JvmStatic
        fun rgb(red: Int, green: Int, blue: Int): Int = argb(0xFF, red, green, blue)
    }
}

class Matrix {
    fun reset() {}

    fun setScale(sx: Float, sy: Float) {}

    fun postRotate(degrees: Float): Boolean = true

    fun postScale(sx: Float, sy: Float): Boolean = true
}

open class Shader {
    enum class TileMode { CLAMP, REPEAT, MIRROR, DECAL }
}

class LinearGradient(
    x0: Float,
    y0: Float,
    x1: Float,
    y1: Float,
    colors: IntArray,
    positions: FloatArray?,
    tile: Shader.TileMode,
) : Shader()

open class Xfermode

class PorterDuff {
    enum class Mode { CLEAR, SRC, DST, SRC_OVER, DST_OVER, SRC_IN, DST_IN, SRC_OUT, DST_OUT }
}

class PorterDuffXfermode(val mode: PorterDuff.Mode) : Xfermode()

class Paint(var flags: Int = 0) {
    var color: Int = 0
    var shader: Shader? = null
    var xfermode: Xfermode? = null

    companion object {
        const val FILTER_BITMAP_FLAG = 2
    }
}

class Rect(var left: Int = 0, var top: Int = 0, var right: Int = 0, var bottom: Int = 0) {
    fun set(left: Int, top: Int, right: Int, bottom: Int) {
        this.left = left
        this.top = top
        this.right = right
        this.bottom = bottom
    }
}
