package com.portraitmobile.demo.effects

import android.graphics.Bitmap
import android.graphics.Canvas
import android.graphics.Color
import android.graphics.LinearGradient
import android.graphics.Paint
import android.graphics.PorterDuff
import android.graphics.PorterDuffXfermode
import android.graphics.Rect
import android.graphics.Shader
import com.portraitmobile.demo.segmentation.Mask

enum class Effect(val label: String) {
    NONE("Camera"),
    BLUR("Portrait blur"),
    REPLACE("Backdrop"),
    MASK("Mask"),
}

/**
 * Draws the portrait effects with the smoothed mask as the person's alpha:
 * background (blurred frame, a backdrop, or a dimmed frame) first, then the frame masked by the
 * probability on top. The mask is upsampled bilinearly by the canvas, so edges stay soft.
 * Each result is a new bitmap, never drawn into again: the UI may still be drawing the previous
 * one on its own thread, and reusing it would tear. Only the scratch bitmaps, which never leave
 * this thread, are reused.
 */
class EffectRenderer(
    /** Blur strength: the frame is shrunk by this factor before a box blur. */
    private val blurDownscale: Int = 8,
) {
    private var width = 0
    private var height = 0
    private var foreground: Bitmap? = null
    private var small: Bitmap? = null
    private var smallPixels = IntArray(0)
    private var smallTmp = IntArray(0)
    private var maskBitmap: Bitmap? = null
    private var maskPixels = IntArray(0)

    private val filterPaint = Paint(Paint.FILTER_BITMAP_FLAG)
    private val srcPaint = Paint().apply { xfermode = PorterDuffXfermode(PorterDuff.Mode.SRC) }
    private val maskPaint = Paint(Paint.FILTER_BITMAP_FLAG).apply {
        xfermode = PorterDuffXfermode(PorterDuff.Mode.DST_IN)
    }
    private val dimPaint = Paint().apply { color = Color.argb(170, 0, 0, 0) }
    private val backdropPaint = Paint()
    private val dst = Rect()

    /** Returns the composited image, or null for [Effect.NONE] (the live preview shows through). */
    fun render(frame: Bitmap, mask: Mask, effect: Effect): Bitmap? {
        if (effect == Effect.NONE) return null
        ensureSize(frame.width, frame.height)
        val out = Bitmap.createBitmap(width, height, Bitmap.Config.ARGB_8888)
        val canvas = Canvas(out)
        dst.set(0, 0, width, height)
        when (effect) {
            Effect.BLUR -> drawBlurred(canvas, frame)

            Effect.REPLACE -> canvas.drawRect(dst, backdropPaint)

            Effect.MASK -> {
                canvas.drawBitmap(frame, 0f, 0f, null)
                canvas.drawRect(dst, dimPaint)
            }

            Effect.NONE -> Unit
        }
        canvas.drawBitmap(maskedForeground(frame, mask), 0f, 0f, null)
        return out
    }

    private fun ensureSize(w: Int, h: Int) {
        if (w == width && h == height) return
        width = w
        height = h
        foreground = Bitmap.createBitmap(w, h, Bitmap.Config.ARGB_8888)
        val sw = maxOf(1, w / blurDownscale)
        val sh = maxOf(1, h / blurDownscale)
        small = Bitmap.createBitmap(sw, sh, Bitmap.Config.ARGB_8888)
        smallPixels = IntArray(sw * sh)
        smallTmp = IntArray(sw * sh)
        backdropPaint.shader = LinearGradient(
            0f,
            0f,
            0f,
            h.toFloat(),
            intArrayOf(Color.rgb(38, 70, 83), Color.rgb(42, 157, 143), Color.rgb(233, 196, 106)),
            null,
            Shader.TileMode.CLAMP,
        )
    }

    private fun drawBlurred(canvas: Canvas, frame: Bitmap) {
        val s = checkNotNull(small)
        val sw = s.width
        val sh = s.height
        Canvas(s).drawBitmap(frame, null, Rect(0, 0, sw, sh), filterPaint)
        s.getPixels(smallPixels, 0, sw, 0, 0, sw, sh)
        repeat(BLUR_PASSES) { BoxBlur.blur(smallPixels, smallTmp, sw, sh, BLUR_RADIUS) }
        s.setPixels(smallPixels, 0, sw, 0, 0, sw, sh)
        canvas.drawBitmap(s, null, dst, filterPaint)
    }

    /** The frame with alpha = person probability (upsampled from the mask's resolution). */
    private fun maskedForeground(frame: Bitmap, mask: Mask): Bitmap {
        val m = maskBitmapFor(mask)
        val fg = checkNotNull(foreground)
        val c = Canvas(fg)
        c.drawBitmap(frame, 0f, 0f, srcPaint)
        c.drawBitmap(m, null, dst, maskPaint)
        return fg
    }

    private fun maskBitmapFor(mask: Mask): Bitmap {
        var m = maskBitmap
        if (m == null || m.width != mask.width || m.height != mask.height) {
            m = Bitmap.createBitmap(mask.width, mask.height, Bitmap.Config.ARGB_8888)
            maskBitmap = m
            maskPixels = IntArray(mask.width * mask.height)
        }
        val probs = mask.probs
        for (i in probs.indices) {
            val a = (probs[i] * 255f + 0.5f).toInt().coerceIn(0, 255)
            maskPixels[i] = a shl 24
        }
        m.setPixels(maskPixels, 0, mask.width, 0, 0, mask.width, mask.height)
        return m
    }

    private companion object {
        const val BLUR_RADIUS = 3
        const val BLUR_PASSES = 2
    }
}

/** Separable box blur on opaque ARGB pixels; two passes look close to a Gaussian. */
internal object BoxBlur {
    fun blur(pixels: IntArray, tmp: IntArray, w: Int, h: Int, radius: Int) {
        pass(pixels, tmp, lines = h, length = w, lineStride = w, step = 1, radius = radius)
        pass(tmp, pixels, lines = w, length = h, lineStride = 1, step = w, radius = radius)
    }

    private fun pass(src: IntArray, dst: IntArray, lines: Int, length: Int, lineStride: Int, step: Int, radius: Int) {
        val window = 2 * radius + 1
        for (line in 0 until lines) {
            val base = line * lineStride
            var r = 0
            var g = 0
            var b = 0
            for (k in -radius..radius) {
                val px = src[base + k.coerceIn(0, length - 1) * step]
                r += (px shr 16) and 0xFF
                g += (px shr 8) and 0xFF
                b += px and 0xFF
            }
            for (i in 0 until length) {
                dst[base + i * step] = (0xFF shl 24) or ((r / window) shl 16) or ((g / window) shl 8) or (b / window)
                val leaving = src[base + (i - radius).coerceIn(0, length - 1) * step]
                val entering = src[base + (i + radius + 1).coerceIn(0, length - 1) * step]
                r += ((entering shr 16) and 0xFF) - ((leaving shr 16) and 0xFF)
                g += ((entering shr 8) and 0xFF) - ((leaving shr 8) and 0xFF)
                b += (entering and 0xFF) - (leaving and 0xFF)
            }
        }
    }
}
